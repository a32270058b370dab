// What a node does with requests for hearings it does not host (cluster mode), and the cluster's own
// endpoints.
//
// REST calls are passed on to the hosting node (a proxy, not a redirect: a platform's HTTP client
// drops the Authorization header on a redirect to another origin, and the caller should not have to
// know the cluster's layout). Participants are redirected instead: their media go to the hosting node
// anyway (its router, its ICE candidates), so once the page is loaded from there, signaling and media
// take the direct path and no node carries another node's sockets. The socket.io Redis adapter is
// therefore not needed: no hearing's sockets are spread over nodes.
import type http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import httpProxy from 'http-proxy';
import { AppError } from '../http/errors.ts';
import { requireApiKey } from '../http/api.ts';
import type { TokenIssuer } from '../http/auth.ts';
import type { Cluster } from './cluster.ts';
import { validate } from '../http/validate.ts';
import { galleryMessage, type GalleryMessage } from './gallery.ts';

const adoptBody = z.strictObject({
  hearingId: z.string().min(1).max(64),
  from: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .max(64),
});

/** Set on a creation passed to the node chosen for it: that node creates it and does not place it again. */
export const PLACED_HEADER = 'x-hearing-placed-on';
/** Set on every request a node passes on: a node never passes one on again (no loops on a stale entry). */
export const FORWARDED_HEADER = 'x-hearing-forwarded-by';
/**
 * The address of the client a node passes a request on for, signed with the cluster's API key
 * (`<address> <unix ms> <hmac>`): the hosting node counts a failed authentication against that client,
 * not against the node that passed it on (which would then be refused everything for a minute).
 */
export const CLIENT_HEADER = 'x-hearing-client';
const CLIENT_HEADER_MAX_AGE_MS = 60_000;

const signClient = (apiKey: string, by: string, address: string, at: number): string =>
  createHmac('sha256', apiKey).update(`${by}\n${address}\n${at}`).digest('base64url');

/** The header a node adds to a request it passes on for `address`. */
export function clientHeader(apiKey: string, by: string, address: string, at = Date.now()): string {
  return `${address} ${at} ${signClient(apiKey, by, address, at)}`;
}

/** The client a request was passed on for, when another node of the cluster signed it; else undefined. */
export function forwardedClient(apiKey: string, headers: http.IncomingHttpHeaders, now = Date.now()): string | undefined {
  const by = headers[FORWARDED_HEADER];
  const value = headers[CLIENT_HEADER];
  if (typeof by !== 'string' || typeof value !== 'string' || value.length > 300) return undefined;
  const [address, at, mac] = value.split(' ');
  const sent = Number(at);
  if (!address || !mac || !Number.isSafeInteger(sent) || Math.abs(now - sent) > CLIENT_HEADER_MAX_AGE_MS) return undefined;
  const expected = Buffer.from(signClient(apiKey, by, address, sent));
  const given = Buffer.from(mac);
  return expected.length === given.length && timingSafeEqual(expected, given) ? address : undefined;
}

export interface ClusterRoutesOptions {
  /** Whether the server runs in a cluster (its Cluster starts once the server listens: `cluster()`). */
  clustered: boolean;
  cluster: () => Cluster | undefined;
  apiKey: string;
  tokens: TokenIssuer;
  /** The client's address as this node sees it (told to the node a request is passed on to). */
  clientAddress: (req: Request) => string;
  /** This node's address for participants. */
  publicUrl: () => string;
  /** Whether this node's store has the hearing. */
  isLocal: (hearingId: string) => boolean;
  /** Hearings in session here (what a drain waits for). */
  inSession: () => string[];
  /** Draining state of a node without a cluster (it refuses new hearings). */
  /** Takes over a lost node's hearing (asked by the node that re-places it); whether it did. */
  adopt: (hearingId: string, from: string) => Promise<boolean>;
  /** Starts draining (idempotent); resolves when the node may stop. */
  drain: () => Promise<void>;
  draining: () => boolean;
  /** A message between the hosting node of a hearing and the node serving its gallery (server/cluster/gallery.ts). */
  gallery?: (message: GalleryMessage) => Promise<Record<string, unknown>>;
  /** This node's hearings whose gallery another node serves (hearing, node, viewers there, producers piped). */
  galleries?: () => { hearingId: string; node: string; viewers: number; piped: number }[];
}

/**
 * `pathAndQuery` (as this node received it) at another node's public address, keeping the path that
 * address has (a node behind a reverse proxy at https://court.example/hearing).
 */
export function atAddress(publicUrl: string, pathAndQuery: string): string {
  const base = new URL(publicUrl);
  // Joined as text, never resolved: a path starting with `//` would name another host.
  return new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}/${pathAndQuery.replace(/^\/+/, '')}`).toString();
}

/** A cluster call that cannot be answered (Redis away) as a refusal with a reason, not a server error. */
async function shared<T>(what: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    throw new AppError(
      503,
      'cluster_unavailable',
      `the cluster's shared state (Redis) does not answer: ${what} (${(error as Error).message})`,
    );
  }
}

/** Installs, before the REST routers, the placement of new hearings and the passing on of others' hearings. */
export function installClusterRoutes(app: Express, o: ClusterRoutesOptions): void {
  const proxy = httpProxy.createProxyServer({ xfwd: true, changeOrigin: true, proxyTimeout: 60_000 });
  proxy.on('error', (error, _req, res) => {
    const out = res as http.ServerResponse;
    if (!('headersSent' in out) || out.headersSent) return;
    out.writeHead(502, { 'content-type': 'application/json' });
    out.end(JSON.stringify({ error: { code: 'node_unreachable', message: `the hosting node did not answer: ${error.message}` } }));
  });
  const passOn = (req: Request, res: Response, target: string, headers: Record<string, string> = {}) => {
    req.url = req.originalUrl;
    const by = o.cluster()?.nodeId ?? '';
    proxy.web(req, res, {
      target,
      headers: { [FORWARDED_HEADER]: by, [CLIENT_HEADER]: clientHeader(o.apiKey, by, o.clientAddress(req)), ...headers },
    });
  };

  const admin = express.Router();
  admin.get('/cluster', requireApiKey(o.apiKey), async (_req, res) => {
    const cluster = o.cluster();
    if (!cluster) throw new AppError(409, 'not_clustered', 'this server runs alone (HEARING_REDIS_URL is not set)');
    res.json({ node: cluster.nodeId, nodes: await shared('listing the nodes', cluster.nodes()), galleries: o.galleries?.() ?? [] });
  });
  admin.post('/admin/drain', requireApiKey(o.apiKey), async (_req, res) => {
    void o.drain();
    await o.cluster()?.drain();
    res.status(202).json({ draining: true, hearingsInSession: o.inSession() });
  });
  admin.post('/admin/adopt', requireApiKey(o.apiKey), express.json({ limit: '4kb' }), async (req, res) => {
    const { hearingId, from } = validate(adoptBody, req.body, 'body');
    const cluster = o.cluster();
    if (!cluster) throw new AppError(409, 'not_clustered', 'this server runs alone (HEARING_REDIS_URL is not set)');
    // Only a lost node's hearings move: a live node still holds their rooms and participants.
    if (await shared('checking the node', cluster.alive(from)))
      throw new AppError(409, 'node_alive', `node ${from} is alive: its hearings stay there`);
    if (!(await o.adopt(hearingId, from))) throw new AppError(409, 'not_moved', `hearing ${hearingId} is not ${from}'s to move`);
    res.json({ moved: true, hearingId, from });
  });
  admin.post('/internal/gallery', requireApiKey(o.apiKey), express.json({ limit: '256kb' }), async (req, res) => {
    if (!o.gallery) throw new AppError(409, 'not_clustered', 'this server runs alone (HEARING_REDIS_URL is not set)');
    const message = validate(galleryMessage, req.body, 'body');
    try {
      res.json(await o.gallery(message));
    } catch (error) {
      // mediasoup's refusal of parameters it cannot use.
      if (error instanceof TypeError)
        throw new AppError(400, 'bad_request', `the media server did not accept these parameters: ${error.message}`);
      throw error;
    }
  });
  app.use('/api/v1', admin);

  // A new hearing: placed on the least-loaded live node (this one included) and created there.
  app.post('/api/v1/hearings', requireApiKey(o.apiKey), async (req, res, next) => {
    const cluster = o.cluster();
    if (!cluster) {
      if (o.draining()) throw new AppError(503, 'draining', 'this server is shutting down and takes no new hearings');
      return next();
    }
    if (req.get(PLACED_HEADER) === cluster.nodeId) return next();
    const nodeId = await shared('placing the hearing', cluster.place());
    if (!nodeId) throw new AppError(503, 'no_node', 'no node in the cluster takes new hearings now (all draining or away)');
    const failed = (status: number) => {
      if (status >= 300) void cluster.unplace(nodeId).catch(() => undefined);
    };
    if (nodeId === cluster.nodeId) {
      res.on('finish', () => failed(res.statusCode));
      return next();
    }
    const owner = (await shared('finding the node', cluster.nodes())).find((n) => n.id === nodeId);
    if (!owner) {
      failed(503);
      throw new AppError(503, 'no_node', `node ${nodeId} left the cluster while the hearing was placed on it`);
    }
    res.on('finish', () => failed(res.statusCode));
    passOn(req, res, owner.url, { [PLACED_HEADER]: nodeId });
  });

  if (!o.clustered) return;
  /** The node to send a request for `hearingId` to, or undefined to answer here. */
  const elsewhere = async (req: Request, hearingId: string): Promise<{ url: string; publicUrl: string } | undefined> => {
    const cluster = o.cluster();
    if (!cluster || o.isLocal(hearingId) || req.get(FORWARDED_HEADER)) return undefined;
    const owner = await shared('finding the hearing', cluster.ownerOf(hearingId));
    if (!owner || owner.id === cluster.nodeId) return undefined;
    if (!owner.url) throw new AppError(503, 'node_unavailable', `the node hosting this hearing (${owner.id}) is not answering`);
    return { url: owner.url, publicUrl: owner.publicUrl ?? owner.url };
  };
  // Where a participant's hearing is held now (public: a page whose node is gone asks the others, from its
  // own origin, so any origin may read the answer; it names an address, nothing else).
  app.get('/api/v1/where', async (req, res) => {
    res.set('access-control-allow-origin', '*');
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const claims = await o.tokens.verify(token).catch(() => undefined);
    if (!claims) throw new AppError(401, 'token_invalid', 'a valid participant token is required');
    const cluster = o.cluster();
    if (o.isLocal(claims.hearingId) && cluster) return void res.json({ url: o.publicUrl() });
    const owner = cluster ? await shared('finding the hearing', cluster.ownerOf(claims.hearingId)) : undefined;
    if (!owner?.publicUrl) throw new AppError(503, 'moving', 'the hearing is being placed on another node: ask again shortly');
    res.json({ url: owner.publicUrl });
  });
  app.use('/api/v1/hearings/:id', async (req, res, next) => {
    const target = await elsewhere(req, String(req.params.id));
    if (!target) return next();
    passOn(req, res, target.url);
  });
  // Participants and the public: to the hosting node's own address.
  const redirect = (hearingOf: (req: Request) => Promise<string | undefined>) => async (req: Request, res: Response, next: () => void) => {
    const hearingId = await hearingOf(req);
    const target = hearingId ? await elsewhere(req, hearingId) : undefined;
    if (!target) return next();
    res.redirect(302, atAddress(target.publicUrl, req.originalUrl));
  };
  app.get(
    '/join',
    redirect(async (req) => {
      const token = typeof req.query.token === 'string' ? req.query.token : undefined;
      return token ? (await o.tokens.verify(token).catch(() => undefined))?.hearingId : undefined;
    }),
  );
  app.get(
    ['/watch/:id', '/live/:id/:file'],
    redirect(async (req) => String(req.params.id)),
  );
}
