import fs from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv, type Config } from '../../server/app/config.ts';
import { httpsRequest } from '../../benchmarks/lib/rest.ts';
import { until } from './wait.ts';

/**
 * The suite runs two lanes at once (vitest.config.ts): a light lane's servers take their UDP ports from
 * the upper half of each range, the media lane's from the lower, so that two servers starting together
 * never reach for the same port (each range is handed out from its start).
 */
const light = process.env.HEARING_TEST_LANE === 'light';
const lane = (name: string, min: number, max: number): Record<string, string> => {
  const middle = Math.floor((min + max + 1) / 2);
  return light
    ? { [`${name}_MIN`]: String(middle), [`${name}_MAX`]: String(max) }
    : { [`${name}_MIN`]: String(min), [`${name}_MAX`]: String(middle - 1) };
};
const LANE_PORTS = {
  ...lane('HEARING_RECORD_PORT', 20000, 26999),
  ...lane('HEARING_FACE_PORT', 27000, 27999),
  ...lane('HEARING_ASR_PORT', 28000, 28999),
  ...lane('HEARING_LIVE_PORT', 29000, 29999),
  ...lane('HEARING_SIP_FEED_PORT', 19000, 19999),
};

/** mediasoup ports for test servers: 30000-32999 (the light lane 33000-35999), apart from the recorder's and transcriber's ranges. */
let portBase = (light ? 33000 : 30000) + (process.pid % 25) * 100;

/**
 * For a test that looks at no transcript: no recognizer on every microphone (pocketsphinx takes about a
 * core for a hearing of five talking pages: the phone test of the courtroom app took 42 s of wall time
 * and 45 s of CPU with it, 15 s and 10 s without, 2026-11-28). Tests of what is transcribed, or of what
 * must not be, keep the default.
 */
export const NO_ASR: Partial<Config> = { asrEngine: 'off' };

/** A real server (real mediasoup workers, SQLite in a fresh temp dir) on 127.0.0.1 with a free port. */
export async function startTestServer(overrides: Partial<Config> = {}): Promise<HearingServer> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hearing-test-'));
  const rtcMinPort = portBase;
  portBase += 100;
  const config: Config = {
    ...configFromEnv(LANE_PORTS),
    port: 0,
    host: '127.0.0.1',
    dataDir,
    workers: 2,
    rtcMinPort,
    rtcMaxPort: rtcMinPort + 99,
    apiKey: 'test-api-key-0123456789',
    demo: false,
    frameAncestors: '',
    ...overrides,
  };
  return startServer(config);
}

export interface Api {
  (method: string, route: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
}

/** REST calls with the server's API key. */
export function api(server: HearingServer, key = server.secrets.apiKey): Api {
  return async (method, route, body, headers = {}) => {
    const init = {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    };
    const response = server.tls
      ? await httpsRequest(`${server.url}${route}`, init, server.tls.cert)
      : await fetch(`${server.url}${route}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: response.status, body: parsed };
  };
}

/** Creates a hearing with the given participants; returns ids, tokens and join URLs. */
export async function createHearing(
  server: HearingServer,
  roles: { name: string; role: string }[],
  options: { streamable?: boolean; asr?: { engine: string; language: string } } = {},
) {
  const call = api(server);
  const hearing = await call('POST', '/api/v1/hearings', { caseNumber: `T-${Date.now()}`, title: 'Test hearing', ...options });
  if (hearing.status !== 201) throw new Error(`create hearing: ${JSON.stringify(hearing.body)}`);
  const participants = [];
  for (const r of roles) {
    const p = await call('POST', `/api/v1/hearings/${hearing.body.id}/participants`, r);
    if (p.status !== 201) throw new Error(`add participant: ${JSON.stringify(p.body)}`);
    participants.push(p.body as { id: string; role: string; name: string; token: string; joinUrl: string });
  }
  return { id: hearing.body.id as string, participants };
}

/** A hearing created with `roles` and taken to `open` (through the waiting room). */
export async function openHearing(
  server: HearingServer,
  roles: { name: string; role: string }[],
  options: Parameters<typeof createHearing>[2] = {},
) {
  const hearing = await createHearing(server, roles, options);
  const call = api(server);
  for (const to of ['waiting_room', 'open']) {
    const r = await call('POST', `/api/v1/hearings/${hearing.id}/transitions`, { to });
    if (r.status !== 200) throw new Error(`transition to ${to}: ${JSON.stringify(r.body)}`);
  }
  return hearing;
}

/** A real server for the tests of one describe block; `ctx.server` is set before the tests run. */
export function withServer(overrides: Partial<Config> = {}): { server: HearingServer } {
  const ctx = {} as { server: HearingServer };
  beforeAll(async () => {
    ctx.server = await startTestServer(overrides);
  });
  afterAll(async () => {
    await ctx.server?.close();
  });
  return ctx;
}

/** POSTs an evidence photo (multipart field `photo`) with a token or the API key; null data sends no file. */
export async function uploadEvidence(
  server: HearingServer,
  hearingId: string,
  token: string | null,
  data: Buffer | null,
  name = 'photo.jpg',
) {
  const form = new FormData();
  if (data) form.append('photo', new Blob([new Uint8Array(data)]), name);
  else form.append('note', 'no photo here');
  const response = await fetch(`${server.url}/api/v1/hearings/${hearingId}/evidence`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Waits until the hearing's record has a track of each of `kinds` from the participant (the recorder took it). */
export function recordedTracks(
  server: HearingServer,
  hearingId: string,
  participantId: string,
  kinds: ('audio' | 'video')[],
  timeoutMs = 20_000,
): Promise<unknown> {
  return until(
    `the record has its ${kinds.join(' and ')}`,
    async () => {
      const tracks = ((await api(server)('GET', `/api/v1/hearings/${hearingId}/record`)).body.tracks ?? []) as {
        participantId: string;
        kind: string;
      }[];
      return kinds.every((kind) => tracks.some((t) => t.participantId === participantId && t.kind === kind));
    },
    timeoutMs,
  );
}
