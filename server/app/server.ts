import http from 'node:http';
import https from 'node:https';
import proxyaddr from 'proxy-addr';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Server as SocketServer } from 'socket.io';
import type { Config } from './config.ts';
import { loadSecrets, type Secrets } from './secrets.ts';
import { Store } from '../store/store.ts';
import { TokenIssuer } from '../http/auth.ts';
import { HearingService, IdNumbers } from '../hearing/hearings.ts';
import { apiRouter, errorHandler } from '../http/api.ts';
import { SipAccounts } from '../sip/accounts.ts';
import { SipGateway } from '../sip/gateway.ts';
import { CourtroomSources } from '../sources/courtroom.ts';
import { sourcesRouter } from '../sources/api.ts';
import { RtmpListener } from '../sources/rtmp.ts';
import { createMetrics } from '../http/metrics.ts';
import { AuthFailureLimiter } from '../http/auth-limit.ts';
import { securityHeaders } from '../http/headers.ts';
import { Signaling } from '../signaling/signaling.ts';
import { WebhookSender } from '../hearing/webhooks.ts';
import { MediaPlane } from '../../workers/media/plane.ts';
import { Recorder } from '../../workers/record/recorder.ts';
import { RecordKey } from '../../recordings/signing.ts';
import { isInSession, type HearingState } from '../hearing/state.ts';
import type { HearingLifecycle } from '../hearing/lifecycle.ts';
import { hearingLifecycle } from './lifecycle.ts';
import { processFaults } from './guard.ts';
import { recordRouter } from '../record/api.ts';
import { reviewRouter } from '../record/review-api.ts';
import { AppError } from '../http/errors.ts';
import { identityRouter } from '../identity/api.ts';
import { LivestreamService } from '../livestream/livestream.ts';
import { ConsultationService } from '../hearing/consultations.ts';
import { livestreamRouter, publicLiveRouter } from '../livestream/api.ts';
import { IdentityService } from '../identity/identity.ts';
import { FaceChecker } from '../../workers/identity/face-checker.ts';
import { Transcriber } from '../../workers/transcript/transcriber.ts';
import { pocketsphinxEngine } from '../../workers/transcript/pocketsphinx.ts';
import { WhisperEngine } from '../../workers/transcript/whisper.ts';
import type { SpeechEngine } from '../../workers/transcript/engine.ts';
import { TranscriptService } from '../transcript/transcripts.ts';
import { EvidenceService } from '../evidence/evidence.ts';
import { ImageDecoder } from '../evidence/images.ts';
import { evidenceRouter } from '../evidence/api.ts';
import { TranscriptSigning } from '../transcript/signing.ts';
import { loadTls, type TlsMaterial } from './tls.ts';
import { Coturn, TurnService } from './turn.ts';
import { Cluster } from '../cluster/cluster.ts';
import { loadSampler } from '../cluster/load.ts';
import { forwardedClient, installClusterRoutes } from '../cluster/routes.ts';
import { GalleryEdge, GalleryHost, galleryCall } from '../cluster/gallery.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const clientDir = path.join(root, 'client-demo');

export interface HearingServer {
  url: string;
  config: Config;
  secrets: Secrets;
  store: Store;
  hearings: HearingService;
  plane: MediaPlane;
  recorder: Recorder;
  transcripts: TranscriptService;
  transcriber: Transcriber;
  identity: IdentityService;
  faceChecker: FaceChecker;
  live: LivestreamService;
  recordKey: RecordKey;
  http: http.Server | https.Server;
  /** The certificate when serving HTTPS. */
  tls?: TlsMaterial;
  /** The TURN server the server runs itself (HEARING_TURN=embedded). */
  coturn?: Coturn;
  /** The SIP gateway (HEARING_SIP_PORT). */
  sip?: SipGateway;
  /** Courtroom cameras (RTSP sources). */
  sources: CourtroomSources;
  lifecycle: HearingLifecycle;
  /** Cluster mode (HEARING_REDIS_URL): this node's membership. */
  cluster?: Cluster;
  /**
   * Stops taking new hearings (the cluster places them elsewhere) and resolves once no hearing here is
   * in session (scheduled and adjourned ones do not hold it), or after the drain deadline. Idempotent:
   * SIGTERM in cluster mode and POST /api/v1/admin/drain both start it.
   */
  drain(): Promise<void>;
  /** Resolves when a drain, however started, is done. */
  drained: Promise<void>;
  close(): Promise<void>;
}

/** States that keep a draining node up: the hearing goes on there until it adjourns or closes. */
const HOLDS_A_DRAIN: readonly HearingState[] = ['waiting_room', 'open', 'investigation', 'debate', 'final_statement'];

/** Wires store → hearings → signaling → media plane and starts listening. */
export async function startServer(config: Config): Promise<HearingServer> {
  // Everything the server writes (database, records, evidence, keys, the stream's files) is private to
  // its user: the data folder 0700, files 0600 (the database holds ID numbers and face descriptors).
  process.umask(0o077);
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(config.dataDir, 0o700);
  const secrets = loadSecrets(config.dataDir, {
    apiKey: config.apiKey,
    jwtSecret: config.jwtSecret,
    webhookSecret: config.webhookSecret,
    idKey: config.idKey,
    turnSecret: config.turn?.secret,
  });
  const tlsMaterial = config.tls ? loadTls(config.tls, config.dataDir) : undefined;
  if (tlsMaterial?.generated) console.log(`[server] generated a self-signed certificate, SHA-256 ${tlsMaterial.fingerprint}`);
  // TURN: credentials for every participant; coturn started here when the server runs it itself (first:
  // a coturn that cannot start stops the server before it has started anything else).
  let coturn: Coturn | undefined;
  let ice: TurnService | undefined;
  if (config.turn) {
    const secret = config.turn.mode === 'external' ? config.turn.secret : (config.turn.secret ?? secrets.turnSecret);
    ice = new TurnService(config.turn, secret, Boolean(tlsMaterial));
    if (config.turn.mode === 'embedded') {
      const peerIp = config.announcedIp ?? config.listenIp;
      coturn = await Coturn.start({
        dir: path.join(config.dataDir, 'turn'),
        secret,
        listenIp: config.turn.listenIp,
        port: config.turn.port,
        tlsPort: config.turn.tlsPort,
        relayMin: config.turn.relayMin,
        relayMax: config.turn.relayMax,
        peerIp: peerIp === '0.0.0.0' ? '127.0.0.1' : peerIp,
        ...(config.turn.maxKbps ? { maxKbps: config.turn.maxKbps } : {}),
        ...(tlsMaterial ? { tls: { cert: tlsMaterial.certFile, key: tlsMaterial.keyFile } } : {}),
      });
    }
  }
  // Cluster mode: the node's id is known now (its URL's port only once it listens, so the default id
  // is the host name and the configured port).
  const nodeId = config.cluster ? (config.cluster.nodeId ?? `${os.hostname()}-${config.port}`) : undefined;
  const store = new Store(config.dataDir, {
    ...(config.cluster?.databaseUrl ? { databaseUrl: config.cluster.databaseUrl } : {}),
    // Which hearings are this node's matters only when the nodes share one store.
    ...(config.cluster?.databaseUrl && nodeId ? { nodeId } : {}),
  });
  /** Whether this node holds the hearing (on a shared store, the other nodes' hearings are there too). */
  const hostedHere = (hearingId: string): boolean => {
    const host = store.hostOf(hearingId);
    return host !== undefined && (store.nodeId === null || host === store.nodeId);
  };
  const tokens = new TokenIssuer(secrets.jwtSecret, config.tokenTtlSeconds);
  let baseUrl = config.publicUrl ?? '';
  const idNumbers = new IdNumbers(secrets.idKey);
  const scrubbed = store.scrubIdNumbers((n) => idNumbers.keep(n));
  if (scrubbed) console.log(`[store] kept only the last four and a keyed hash of ${scrubbed} ID number(s)`);
  const hearings = new HearingService(store, tokens, () => baseUrl, idNumbers);
  const plane = await MediaPlane.create({
    size: config.workers,
    rtcMinPort: config.rtcMinPort,
    rtcMaxPort: config.rtcMaxPort,
    listenIp: config.listenIp,
    announcedIp: config.announcedIp,
    opusNack: config.opusNack,
  });

  const inSession = (hearingId: string): boolean => {
    const state = store.hearing(hearingId)?.state;
    return state !== undefined && isInSession(state);
  };
  // Records (and the key that signs them) in the data folder, or on a folder every node of a cluster
  // mounts: a hearing moved from a lost node goes on with its record there.
  const recordRoot = config.cluster?.sharedDir ?? config.dataDir;
  if (recordRoot !== config.dataDir) fs.mkdirSync(recordRoot, { recursive: true, mode: 0o700 });
  const recordKey = RecordKey.loadOrCreate(recordRoot);
  const recorder = new Recorder({
    dataDir: recordRoot,
    ...(store.nodeId ? { owns: hostedHere } : {}),
    key: recordKey,
    plane,
    roleOf: (_hearingId, participantId) => store.participant(participantId)?.role ?? 'system',
    inSession,
    portRange: { min: config.recordPortMin, max: config.recordPortMax },
    writer: config.recordWriter,
    holdMs: config.recordHoldMs,
    hearingLog: (hearingId) => store.auditLog(hearingId),
    checkpoint: config.recordCheckpoint,
    // In the hearing's log (not mirrored into the record, which holds the line itself), so the court
    // platform gets each signed head as a webhook (`hearing.record.checkpoint`).
    onCheckpoint: ({ hearingId, ...c }) => hearings.log(hearingId, 'system', 'record.checkpoint', { ...c }),
    // The bench is alerted (提醒) to a track that loses media; the record has each gap as it happens.
    onLoss: ({ hearingId, ...l }) => hearings.log(hearingId, 'system', 'record.gap', { ...l }),
    // Cluster: another node carries this record on now (the hearing moved while this node was away).
    onTakenOver: (hearingId) => void relinquish(hearingId, 'its record was taken over by another node'),
  });
  /** Set once signaling is up (below): gives up a hearing another node took over. */
  let relinquish: (hearingId: string, why: string) => Promise<void> = () => Promise.resolve();
  const transcripts = new TranscriptService(store);
  const images = new ImageDecoder();
  const signing = new TranscriptSigning(
    store,
    transcripts,
    (hearingId) => recorder.get(hearingId)?.manifest.head.hash ?? null,
    (hearingId) => recorder.dirOf(hearingId),
    images,
  );
  const evidence = new EvidenceService(store, (hearingId) => recorder.dirOf(hearingId), images);
  const engines: Record<string, SpeechEngine> = { pocketsphinx: pocketsphinxEngine };
  const faceChecker = new FaceChecker({ min: config.facePortMin, max: config.facePortMax });
  const identity = new IdentityService({
    store,
    hearings,
    plane,
    checker: faceChecker,
    images,
    config: config.identity,
    roleOf: (_hearingId, participantId) => store.participant(participantId)?.role ?? 'viewer',
  });
  const live = new LivestreamService({ store, hearings, plane, config: config.live, dataDir: config.dataDir, lang: config.lang });
  hearings.addTransitionGuard((hearingId, from, to) => {
    if (to !== 'open' || (from !== 'scheduled' && from !== 'waiting_room')) return;
    const blockers = identity.blockers(hearingId);
    if (blockers.length) {
      throw new AppError(
        409,
        'identity_unverified',
        `identity not verified for ${blockers.length} participant(s) present: the judge or clerk admits or refuses them first`,
        { participants: blockers },
      );
    }
  });
  const unavailable: Record<string, string> = {};
  let whisper: WhisperEngine | undefined;
  if (config.asrModel) {
    try {
      whisper = await WhisperEngine.load(config.asrModel);
      engines.whisper = whisper;
    } catch (error) {
      unavailable.whisper = (error as Error).message;
      console.warn(`[asr] ${unavailable.whisper}: hearings that ask for whisper fall back to pocketsphinx`);
    }
  } else unavailable.whisper = 'no model configured (HEARING_ASR_MODEL)';
  const transcriber = new Transcriber({
    engines,
    unavailable,
    plane,
    inSession,
    asrOf: (hearingId) => {
      const h = store.hearing(hearingId);
      return { engine: h?.asrEngine ?? config.asrEngine, language: h?.asrLanguage ?? config.asrLanguage };
    },
    portRange: { min: config.asrPortMin, max: config.asrPortMax },
  });
  transcriber.on('notice', ({ hearingId, action, detail }) => hearings.log(hearingId, 'system', action, detail));
  hearings.on('event', (e) => {
    if (e.action === 'hearing.state_changed' && e.hearingId && (e.detail as { to?: string }).to === 'closed')
      sources.closeHearing(e.hearingId);
    // Every hearing-log entry is mirrored into the record as it happens (what a transition then does
    // to the record is a step of the lifecycle below).
    if (!e.hearingId) return;
    const hearingId = e.hearingId;
    void recorder.hearingEvent(hearingId, e.action, e.actor, e.detail, e.seq).catch((error: Error) => {
      console.error(`[recorder] ${hearingId} ${e.action}: ${error.message}`);
    });
  });

  let webhooks: WebhookSender | undefined;
  if (config.webhookUrl) {
    webhooks = new WebhookSender({
      url: config.webhookUrl,
      secret: secrets.webhookSecret,
      baseDelayMs: config.webhookRetryMs,
      onFailure: (event, error) => {
        console.warn(`[webhooks] giving up on event ${event.id} (${event.type}): ${error}`);
        store.audit({
          hearingId: event.hearingId,
          at: new Date().toISOString(),
          actor: 'system',
          action: 'webhook.failed',
          detail: { eventId: event.id, error },
        });
      },
    });
    const sender = webhooks;
    hearings.on('event', (e) =>
      sender.send({ id: e.seq, type: `hearing.${e.action.replace(/^hearing\./, '')}`, hearingId: e.hearingId, at: e.at, data: e.detail }),
    );
  }

  const metrics = createMetrics({
    plane,
    store,
    processFaults,
    streams: () => live.health(),
    images,
    ...(config.cluster ? { cluster: () => cluster } : {}),
  });
  const app = express();
  app.disable('x-powered-by');
  // Behind a reverse proxy: the client's address (per-address limits, logs) and scheme from its headers.
  const trust = trustSetting(config.trustProxy);
  if (trust !== undefined) app.set('trust proxy', trust);
  const trusted =
    trust === undefined ? undefined : typeof trust === 'number' ? (_a: string, hop: number) => hop < trust : proxyaddr.compile(trust);
  const clientAddress = (req: http.IncomingMessage): string =>
    trusted ? proxyaddr(req, trusted) : (req.socket.remoteAddress ?? 'unknown');
  app.use(
    securityHeaders(config.frameAncestors, () =>
      (cluster?.doors ?? []).map((u) => new URL(u).origin).filter((origin) => !baseUrl || origin !== new URL(baseUrl).origin),
    ),
  );
  const authLimiter = new AuthFailureLimiter(config.authFailuresPerMinute);
  // A request another node passed on counts against the client it names (signed with the cluster's key).
  const restClient = (req: express.Request): string =>
    (config.cluster ? forwardedClient(secrets.apiKey, req.headers) : undefined) ?? req.ip ?? req.socket.remoteAddress ?? 'unknown';
  app.use('/api/v1', authLimiter.middleware(restClient));
  app.get('/healthz', (_req, res) => {
    const live = plane.pool.workers.filter((s) => !s.worker.died).length;
    res
      .status(live > 0 ? 200 : 503)
      .json({ ok: live > 0, workers: { live, total: plane.pool.workers.length }, hearingsOpen: plane.all().length });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  // Cluster mode: new hearings placed by load, others' hearings passed on (server/cluster/routes.ts).
  let cluster: Cluster | undefined;
  const holdingADrain = () => store.openHearings().filter((h) => HOLDS_A_DRAIN.includes(h.state));
  let draining = false;
  let drainDone: () => void = () => undefined;
  const drained = new Promise<void>((resolve) => (drainDone = resolve));
  let drainRun: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (drainRun ??= (async () => {
      draining = true;
      await cluster?.drain().catch((error: Error) => console.error(`[cluster] drain: ${error.message}`));
      const deadline = Date.now() + (config.cluster?.drainDeadlineSeconds ?? 4 * 3600) * 1000;
      console.log(`[server] draining: no new hearings here; waiting for ${holdingADrain().length} hearing(s) in session`);
      while (!closed && holdingADrain().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000).unref());
      const left = holdingADrain();
      console.log(left.length ? `[server] drain deadline passed with ${left.length} hearing(s) in session` : '[server] drained');
      drainDone();
    })());
  /**
   * A lost (or drained and gone) node's hearing taken over here: this node hosts it from now on (the store
   * says so, the one node to change it wins), it is logged, and its record, if it has one, gets its
   * interruption line; participants who open their link again land here, and the room, the record and
   * the transcript start again with the first of them as after a restart.
   */
  const adopt = async (hearingId: string, from: string): Promise<boolean> => {
    if (!store.moveHearing(hearingId, from, nodeId!)) return false;
    await cluster?.hosting(hearingId);
    hearings.log(hearingId, 'system', 'hearing.moved', { from, to: nodeId });
    await recorder.recover(hearingId, { node: from, movedTo: nodeId });
    return true;
  };
  // A hearing larger than a node: its gallery's media served by another node (server/cluster/gallery.ts).
  const call = galleryCall(secrets.apiKey);
  const galleryEdge = config.cluster
    ? new GalleryEdge({
        plane,
        nodeId: nodeId!,
        stillHosts: async (host, hearingId) => {
          const owner = await cluster?.ownerOf(hearingId);
          return !cluster || (owner?.id === host && owner.alive);
        },
        tellLost: async (host, hearingId, reason) => {
          const node = (await cluster?.nodes())?.find((n) => n.id === host);
          if (node) await call(node.url, { op: 'lost', hearingId, node: nodeId!, reason });
        },
        iceFor: (participantId, expiresAt) => ice?.iceFor(participantId, expiresAt) ?? {},
        log: (line) => console.log(line),
      })
    : undefined;
  const galleryHost = config.cluster
    ? new GalleryHost({
        nodeId: nodeId!,
        after: config.cluster.galleryAfter,
        call,
        pickNode: async () => {
          const others = (await cluster?.nodes())?.filter((n) => n.id !== nodeId && !n.draining) ?? [];
          others.sort((a, b) => a.load.cpu - b.load.cpu || a.load.transports - b.load.transports || a.id.localeCompare(b.id));
          return others[0] ? { id: others[0].id, url: others[0].url } : undefined;
        },
        alive: async (id) => (cluster ? cluster.alive(id) : false),
        mayReceive: (hearingId, receiver, p) =>
          !(p.kind === 'video' && hearings.participantRole(receiver) === 'viewer' && live.isHidden(hearingId, p.participantId)),
        record: (hearingId, action, detail) => hearings.log(hearingId, 'system', action, detail),
        reset: (hearingId, viewers) => signaling.galleryLost(hearingId, viewers),
        consumerClosed: (info) => signaling.galleryConsumerClosed(info),
        log: (line) => console.log(line),
      })
    : undefined;
  installClusterRoutes(app, {
    adopt,
    clientAddress: restClient,
    galleries: () => galleryHost?.status() ?? [],
    gallery: async (m) => {
      if (m.op === 'lost') return { lost: galleryHost?.lost(m.hearingId, m.node, m.reason) ?? false };
      if (!galleryEdge) throw new AppError(409, 'not_clustered', 'this server runs alone');
      return galleryEdge.handle(m);
    },
    publicUrl: () => baseUrl,
    clustered: Boolean(config.cluster),
    cluster: () => cluster,
    apiKey: secrets.apiKey,
    tokens,
    isLocal: hostedHere,
    inSession: () => holdingADrain().map((h) => h.id),
    drain,
    draining: () => draining,
  });
  app.use(
    '/api/v1',
    evidenceRouter(hearings, evidence, tokens, secrets.apiKey, (h, p) => identity.isRefused(h, p)),
  );
  app.use('/api/v1', recordRouter(hearings, recorder, recordKey, secrets.apiKey));
  app.use('/api/v1', identityRouter(identity, secrets.apiKey));
  app.use('/api/v1', livestreamRouter(live, secrets.apiKey));
  app.use(publicLiveRouter(live, clientDir));
  app.use(
    '/api/v1',
    reviewRouter(hearings, (id) => recorder.dirOf(id), config.dataDir, secrets.apiKey),
  );
  // SIP terminals (HEARING_SIP_PORT): their accounts are issued over REST; the gateway starts with signaling.
  let sipGateway: SipGateway | undefined;
  const sipAccounts = config.sip
    ? new SipAccounts(store, () => ({ host: sipGateway?.host ?? config.listenIp, port: sipGateway?.port ?? config.sip!.port }))
    : undefined;
  // Courtroom cameras (RTSP, and RTMP pushes with HEARING_RTMP_PORT): in the hearing through signaling as
  // terminals are (set up below).
  if (config.rtmp?.tlsPort !== undefined && !tlsMaterial)
    throw new Error(
      "RTMPS (HEARING_RTMPS_PORT) needs the server's certificate: HEARING_TLS_CERT/HEARING_TLS_KEY or HEARING_TLS=self-signed",
    );
  const rtmp = config.rtmp
    ? await RtmpListener.start(
        {
          port: config.rtmp.port,
          host: config.rtmp.host ?? config.announcedIp ?? config.listenIp,
          listenIp: config.listenIp,
          ...(config.rtmp.tlsPort !== undefined && tlsMaterial
            ? { tls: { port: config.rtmp.tlsPort, cert: tlsMaterial.certFile, key: tlsMaterial.keyFile } }
            : {}),
        },
        (path, address) => console.warn(`[rtmp] refused a push to ${path} from ${address} (no camera has that key)`),
      )
    : undefined;
  const sources = new CourtroomSources({
    plane,
    hearings,
    ...(rtmp ? { rtmp } : {}),
    presence: () => ({
      joined: (hearingId, participantId, detail) => signaling.terminalJoined(hearingId, participantId, detail),
      produced: (hearingId, announcement) => signaling.terminalProduced(hearingId, announcement),
      left: (hearingId, participantId, detail) => signaling.terminalLeft(hearingId, participantId, detail),
    }),
  });
  app.use('/api/v1', sourcesRouter(sources, secrets.apiKey));
  app.use('/api/v1', apiRouter(hearings, transcripts, evidence, signing, secrets.apiKey, config.lang, sipAccounts));
  app.get('/join', (_req, res) => {
    res.sendFile(path.join(clientDir, 'index.html'));
  });
  // The example court platform page embedding a hearing with the SDK (/client/hearing-sdk.js).
  app.get('/embed-example', (_req, res) => {
    res.sendFile(path.join(clientDir, 'embed-example.html'));
  });
  app.use('/client', express.static(path.join(clientDir, 'dist'), { fallthrough: false }));
  app.get('/', (_req, res) => {
    res
      .type('text/plain')
      .send('hearing media core: REST API at /api/v1 (see /api/v1/openapi.json); participants join at /join?token=...\n');
  });
  app.use(errorHandler);

  const server = tlsMaterial ? https.createServer({ cert: tlsMaterial.cert, key: tlsMaterial.key }, app) : http.createServer(app);
  // An idle keep-alive connection is closed by the client (or the reverse proxy: nginx keeps upstream
  // connections 60 s) before the server does: a request sent on a connection the server is closing at
  // that moment fails with ECONNRESET (seen in a busy CI run with Node's 5 s default).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const io = new SocketServer(server, { maxHttpBufferSize: 256 * 1024, serveClient: false });
  const consultations = new ConsultationService({ hearings, plane });
  const signaling = new Signaling({
    io,
    hearings,
    plane,
    tokens,
    recorder,
    transcripts,
    evidence,
    signing,
    identity,
    live,
    consultations,
    authLimiter,
    clientAddress,
    ice,
    reconnectGraceMs: config.reconnectGraceMs,
    ...(config.cluster ? { hostedHere, doors: () => cluster?.doors ?? [] } : {}),
    ...(galleryHost ? { gallery: galleryHost } : {}),
  });
  if (config.sip)
    sipGateway = await SipGateway.start({
      port: config.sip.port,
      listenIp: config.listenIp,
      announcedIp: config.announcedIp,
      host: config.sip.host,
      rtpTimeoutMs: config.sip.rtpTimeoutMs,
      feedPortMin: config.sip.feedPortMin,
      feedPortMax: config.sip.feedPortMax,
      dataDir: config.dataDir,
      lang: config.lang,
      store,
      hearings,
      plane,
      signaling,
      authLimiter,
    });
  hearings.on('event', (e) => {
    // Listed for the judge as it arrives.
    if (e.action === 'evidence.added' && e.hearingId)
      signaling.broadcastTo(e.hearingId, 'viewEvidence', 'evidenceAdded', { ...e.detail, uploadedBy: e.actor });
  });
  const lifecycle = hearingLifecycle({ hearings, recorder, transcriber, transcripts, signing, live, consultations, identity, signaling });
  /**
   * Cluster mode on one store: a hearing this node still holds (a room, a record) that another node took
   * over while this one was frozen or cut off from Redis (the store names the other node; or the record
   * was taken over under it). Split brain is ended here: the pages are sent to the other node, transcription,
   * face checks, consultations and the stream stop, the record is not written to any more (segment files
   * closed after the takeover are set aside, out of the record), the room closes, and the hearing's log
   * says so.
   */
  const relinquishing = new Set<string>();
  relinquish = async (hearingId: string, why: string): Promise<void> => {
    if (relinquishing.has(hearingId) || !store.nodeId) return;
    relinquishing.add(hearingId);
    // Every step runs even if one before it fails (the store may be out of reach too).
    const step = async <T>(name: string, fn: () => T | Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (error) {
        console.error(`[cluster] giving up hearing ${hearingId}: ${name}: ${(error as Error).message}`);
        return undefined;
      }
    };
    const heldBy = (await step('its host', () => store.hostOf(hearingId))) ?? null;
    console.warn(`[cluster] hearing ${hearingId} is held by ${heldBy ?? 'another node'} now (${why}): giving it up here`);
    const pages = await step('pages', () => signaling.relinquish(hearingId));
    await step('transcription', () => transcriber.relinquish(hearingId));
    await step('face checks', () => identity.relinquish(hearingId));
    await step('consultations', () => consultations.relinquish(hearingId));
    const stream = await step('stream', () => live.relinquish(hearingId));
    const setAside = await step('record', () => recorder.relinquish(hearingId, nodeId!));
    await step('room', () => plane.closeRoom(hearingId));
    if (setAside?.files.length)
      console.warn(
        `[cluster] hearing ${hearingId}: ${setAside.files.length} segment file(s) closed after the takeover set aside in ${setAside.dir}`,
      );
    await step('log', () =>
      hearings.log(hearingId, 'system', 'hearing.relinquished', {
        node: nodeId,
        heldBy,
        why,
        pages: pages ?? null,
        streamStopped: stream ?? null,
        setAside: setAside ? { dir: path.relative(recordRoot, setAside.dir), files: setAside.files } : null,
      }),
    );
    relinquishing.delete(hearingId);
  };
  // Each second: is every hearing held here (a room, an open record) still this node's in the store?
  const ownership = store.nodeId
    ? setInterval(() => {
        const held = new Set([...plane.all().map((r) => r.hearingId), ...recorder.hearingIds()]);
        if (held.size === 0) return;
        try {
          // One query for the usual answer (all still ours); a hearing asked about alone only when it is not.
          const ours = new Set(store.openHearings().map((h) => h.id));
          for (const hearingId of held) {
            if (ours.has(hearingId)) continue;
            const host = store.hostOf(hearingId);
            if (typeof host === 'string' && host !== store.nodeId) void relinquish(hearingId, `the store names ${host} as its host`);
          }
        } catch {
          // the store is out of reach: asked again next time
        }
      }, 1000)
    : undefined;
  ownership?.unref();
  hearings.on('event', (e) => {
    if (e.action !== 'hearing.state_changed' || !e.hearingId) return;
    const { from, to } = e.detail as { from: HearingState; to: HearingState };
    void lifecycle.run({ hearingId: e.hearingId, from, to, actor: e.actor });
  });
  transcriber.on('partial', (partial) => signaling.broadcast(partial.hearingId, 'transcriptPartial', { ...partial, status: 'partial' }));
  transcriber.on('segment', (segment) => {
    const stored = transcripts.addRecognized(segment);
    signaling.broadcast(segment.hearingId, 'transcript', stored);
    live.addCaption(segment.hearingId, stored);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const localHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `${tlsMaterial ? 'https' : 'http'}://${localHost}:${port}`;
  baseUrl = config.publicUrl ?? url;
  if (config.cluster) {
    try {
      cluster = await Cluster.start({
        redisUrl: config.cluster.redisUrl,
        nodeId: nodeId!,
        url: config.cluster.nodeUrl ?? url,
        publicUrl: baseUrl,
        load: loadSampler(
          plane,
          () => store.openHearings().length,
          () => galleryEdge!.counts(),
        ),
        hosted: () => store.openHearings().map((h) => h.id),
        log: (line) => console.log(line),
        // A lost node's hearings move only when this node can take them whole: one store and shared records.
        ...(store.nodeId && config.cluster.sharedDir
          ? {
              moveTo: async (target: { id: string; url: string }, hearingId: string, from: string) => {
                if (target.id === nodeId) return adopt(hearingId, from);
                const r = await fetch(`${target.url}/api/v1/admin/adopt`, {
                  method: 'POST',
                  headers: { authorization: `Bearer ${secrets.apiKey}`, 'content-type': 'application/json' },
                  body: JSON.stringify({ hearingId, from }),
                  signal: AbortSignal.timeout(10_000),
                });
                return r.status === 200;
              },
            }
          : {}),
      });
    } catch (error) {
      // Nothing half-started stays behind a server that cannot join its cluster.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([plane.close(), recorder.close(), transcriber.close(), faceChecker.close(), images.close()]);
      store.close();
      throw error;
    }
    hearings.on('event', (e) => {
      if (!e.hearingId) return;
      if (e.action === 'hearing.created') void cluster?.hosting(e.hearingId).catch(() => undefined);
      if (e.action === 'hearing.state_changed' && (e.detail as { to?: string }).to === 'closed')
        void cluster?.released(e.hearingId).catch(() => undefined);
    });
  }
  if (!fs.existsSync(path.join(clientDir, 'dist', 'client.js'))) {
    console.warn('[server] client-demo/dist/client.js is missing: run `npm run build:client`');
  }

  let closed = false;
  return {
    url,
    config,
    secrets,
    store,
    hearings,
    plane,
    recorder,
    transcripts,
    transcriber,
    identity,
    faceChecker,
    live,
    recordKey,
    http: server,
    ...(tlsMaterial ? { tls: tlsMaterial } : {}),
    ...(coturn ? { coturn } : {}),
    ...(sipGateway ? { sip: sipGateway } : {}),
    sources,
    lifecycle,
    ...(cluster ? { cluster } : {}),
    drain,
    drained,
    async close() {
      if (closed) return;
      closed = true;
      // Every step runs even if one before it fails: a half-closed server must not leave processes behind.
      const steps: [string, () => unknown][] = [
        // Its address stops answering before its records are closed: the others must not take over yet.
        ['cluster', () => cluster?.leaving()],
        ['ownership', () => clearInterval(ownership)],
        // Hosts of the galleries served here are told first, so their viewers move while media still flow.
        [
          'galleries',
          async () => {
            galleryHost?.closeAll();
            await galleryEdge?.closeAll();
          },
        ],
        ['sip', () => sipGateway?.close()],
        ['courtroom cameras', () => sources.close()],
        [
          'signaling',
          () => {
            signaling.close();
            return new Promise<void>((resolve) => io.close(() => resolve()));
          },
        ],
        ['turn', () => coturn?.close() ?? Promise.resolve()],
        ['livestream', () => live.close()],
        ['identity', () => identity.close()],
        ['face checker', () => faceChecker.close()],
        ['image process', () => images.close()],
        ['transcriber', () => transcriber.close()],
        ['whisper', () => whisper?.release()],
        ['recorder', () => recorder.close()],
        // Leaves the cluster only once its records are closed: a live node takes over what it still hosts
        // as soon as its entry is gone, and must not write into a record this node still writes to.
        ['cluster leaving', () => cluster?.close()],
        ['webhooks', () => webhooks?.stop()],
        ['media plane', () => plane.close()],
        ['store', () => store.close()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (error) {
          console.error(`[server] closing ${name}: ${(error as Error).message}`);
        }
      }
    },
  };
}

/** `HEARING_TRUST_PROXY` as Express takes it: a hop count, or addresses/CIDRs/names (`loopback`). */
function trustSetting(v: string | undefined): number | string[] | undefined {
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
