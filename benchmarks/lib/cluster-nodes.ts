// Cluster nodes as their own server processes on this machine (the cluster test and `bench -- cluster`):
// each with its own data folder and port ranges, all with the secrets a cluster's nodes share.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startServerProcess, type ServerProcess } from './server-process.ts';

export const CLUSTER_API_KEY = 'cluster-api-key-0123456789abcdef';

export interface ClusterNodeOptions {
  /** No cluster when undefined: a server alone with the same ranges. */
  redisUrl?: string;
  databaseUrl?: string;
  sharedDir?: string;
}

/** The environment of node `i` (ports and folders of its own, the shared secrets, the cluster's services). */
export async function clusterNodeEnv(i: number, id: string, o: ClusterNodeOptions): Promise<Record<string, string>> {
  const range = (base: number, size: number) => [String(base + i * size), String(base + i * size + size - 1)] as const;
  const [rtcMin, rtcMax] = range(33000, 300);
  const [recMin, recMax] = range(20000, 1500);
  const [faceMin, faceMax] = range(27000, 200);
  const [asrMin, asrMax] = range(28000, 200);
  const [liveMin, liveMax] = range(29000, 200);
  return {
    PORT: String(await freePort()),
    HEARING_HOST: '127.0.0.1',
    HEARING_LISTEN_IP: '127.0.0.1',
    HEARING_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), `hearing-${id}-`)),
    HEARING_API_KEY: CLUSTER_API_KEY,
    HEARING_JWT_SECRET: 'cluster-jwt-secret-0123456789abcdef0123',
    HEARING_ID_KEY: 'cluster-id-key-0123456789abcdef0123456789',
    HEARING_DEMO: '0',
    HEARING_WORKERS: '1',
    HEARING_RTC_MIN_PORT: rtcMin,
    HEARING_RTC_MAX_PORT: rtcMax,
    HEARING_RECORD_PORT_MIN: recMin,
    HEARING_RECORD_PORT_MAX: recMax,
    HEARING_FACE_PORT_MIN: faceMin,
    HEARING_FACE_PORT_MAX: faceMax,
    HEARING_ASR_PORT_MIN: asrMin,
    HEARING_ASR_PORT_MAX: asrMax,
    HEARING_LIVE_PORT_MIN: liveMin,
    HEARING_LIVE_PORT_MAX: liveMax,
    ...(o.redisUrl ? { HEARING_REDIS_URL: o.redisUrl, HEARING_NODE_ID: id } : {}),
    ...(o.databaseUrl ? { HEARING_DATABASE_URL: o.databaseUrl } : {}),
    ...(o.sharedDir ? { HEARING_SHARED_DIR: o.sharedDir } : {}),
  };
}

export interface ClusterNode {
  id: string;
  url: string;
  env: Record<string, string>;
  process: ServerProcess;
}

/**
 * Starts node `i` (or again, with the environment it had) and waits until it has registered in the
 * cluster (or listens, for a server alone).
 */
export async function startClusterNode(i: number, id: string, o: ClusterNodeOptions, env?: Record<string, string>): Promise<ClusterNode> {
  const e = env ?? (await clusterNodeEnv(i, id, o));
  const process = await startServerProcess(e);
  if (e.HEARING_REDIS_URL) await process.waitFor(`[cluster] node ${id} registered`);
  return { id, url: `http://${e.HEARING_HOST ?? '127.0.0.1'}:${e.PORT}`, env: e, process };
}

/** A REST call with the cluster's key; the answer's status, JSON body and redirect target. */
export async function clusterCall(base: string, method: string, route: string, body?: unknown, key: string | null = CLUSTER_API_KEY) {
  const r = await fetch(`${base}${route}`, {
    method,
    redirect: 'manual',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of every route's shape, read field by field by its callers
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: r.status, body: parsed, location: r.headers.get('location') };
}

export interface ClusterView {
  node: string;
  nodes: {
    id: string;
    url: string;
    publicUrl: string;
    draining: boolean;
    load: {
      hearings: number;
      workers: number;
      routers: number;
      transports: number;
      galleries: number;
      galleryViewers: number;
      cpu: number;
    };
    hearings: string[];
  }[];
  /** The node's hearings whose gallery another node serves. */
  galleries: { hearingId: string; node: string; viewers: number; piped: number }[];
}

export async function clusterView(base: string): Promise<ClusterView> {
  const r = await clusterCall(base, 'GET', '/api/v1/cluster');
  if (r.status !== 200) throw new Error(`GET /api/v1/cluster: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as ClusterView;
}

export const hostOf = (v: ClusterView, hearingId: string): string | undefined => v.nodes.find((n) => n.hearings.includes(hearingId))?.id;
