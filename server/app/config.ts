import { LANGUAGES, type Language } from '../i18n/i18n.ts';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { PERSON_ROLES } from '../hearing/roles.ts';
import { DEFAULT_THRESHOLDS } from '../identity/rule.ts';
import type { IdentityConfig } from '../identity/identity.ts';
import type { LiveConfig } from '../livestream/livestream.ts';

const port = z.coerce.number().int().min(0).max(65535);
const envSchema = z.object({
  PORT: port.default(3000),
  HEARING_HOST: z.string().default('0.0.0.0'),
  HEARING_DATA_DIR: z.string().default('./data'),
  HEARING_PUBLIC_URL: z.url().optional(),
  HEARING_LISTEN_IP: z.string().default('127.0.0.1'),
  HEARING_ANNOUNCED_IP: z.string().optional(),
  HEARING_RTC_MIN_PORT: port.default(40000),
  HEARING_RTC_MAX_PORT: port.default(49999),
  HEARING_WORKERS: z.coerce.number().int().min(1).max(256).optional(),
  HEARING_API_KEY: z.string().min(16).optional(),
  HEARING_JWT_SECRET: z.string().min(32).optional(),
  HEARING_TOKEN_TTL: z.coerce
    .number()
    .int()
    .min(60)
    .default(12 * 3600),
  HEARING_WEBHOOK_URL: z.url().optional(),
  HEARING_WEBHOOK_SECRET: z.string().min(16).optional(),
  HEARING_ID_KEY: z.string().min(16).optional(),
  HEARING_WEBHOOK_RETRY_MS: z.coerce.number().int().min(1).default(500),
  // Below Linux's ephemeral range (32768-60999): ffmpeg binds these a moment after they are chosen, and
  // no socket bound to port 0 may take one in between.
  HEARING_RECORD_WRITER: z.enum(['mux', 'ffmpeg']).default('mux'),
  HEARING_RECORD_HOLD_MS: z.coerce.number().int().min(100).max(30_000).default(2000),
  HEARING_RECORD_PORT_MIN: port.default(20000),
  HEARING_RECORD_PORT_MAX: port.default(26999),
  // Unset: 'none', or 'self' for the demo (its embedding example frames the join page from this server).
  HEARING_FRAME_ANCESTORS: z
    .string()
    .trim()
    .max(2000)
    .regex(/^[^;,\r\n]*$/, 'origins separated by spaces')
    .optional(),
  HEARING_AUTH_FAILURES_PER_MIN: z.coerce.number().int().min(1).max(100_000).default(20),
  // '0': lost microphone packets are not asked for again (Opus in-band FEC only): the loss benchmark's baseline.
  HEARING_OPUS_NACK: z.enum(['0', '1']).default('1'),
  HEARING_RECONNECT_GRACE_S: z.coerce.number().int().min(0).max(600).default(30),
  HEARING_RECORD_CHECKPOINT_S: z.coerce.number().int().min(1).max(3600).default(30),
  HEARING_RECORD_CHECKPOINT_LINES: z.coerce.number().int().min(1).max(100_000).default(200),
  HEARING_FACE_PORT_MIN: port.default(27000),
  HEARING_FACE_PORT_MAX: port.default(27999),
  HEARING_IDENTITY_REQUIRED_ROLES: z
    .string()
    .default('party,lawyer')
    .transform((s) =>
      s
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(PERSON_ROLES))),
  HEARING_IDENTITY_ACCEPT: z.coerce.number().positive().max(2).default(DEFAULT_THRESHOLDS.accept),
  HEARING_IDENTITY_REJECT: z.coerce.number().positive().max(2).default(DEFAULT_THRESHOLDS.reject),
  HEARING_IDENTITY_FRAMES: z.coerce.number().int().min(1).max(30).default(DEFAULT_THRESHOLDS.frames),
  HEARING_IDENTITY_MAX_FRAMES: z.coerce.number().int().min(1).max(60).optional(),
  HEARING_IDENTITY_TIMEOUT_S: z.coerce.number().positive().default(20),
  HEARING_IDENTITY_RECHECK_S: z.coerce.number().positive().default(300),
  HEARING_IDENTITY_ABSENT_S: z.coerce.number().positive().default(30),
  HEARING_ASR_ENGINE: z.enum(['pocketsphinx', 'whisper', 'off']).default('pocketsphinx'),
  HEARING_ASR_LANGUAGE: z.enum(['en', 'zh', 'auto']).default('en'),
  HEARING_ASR_MODEL: z.string().min(1).optional(),
  HEARING_ASR_PORT_MIN: port.default(28000),
  HEARING_ASR_PORT_MAX: port.default(28999),
  HEARING_LIVE_PORT_MIN: port.default(29000),
  HEARING_LIVE_PORT_MAX: port.default(29999),
  HEARING_LIVE_DELAY_S: z.coerce.number().min(0).max(600).default(30),
  HEARING_LIVE_SIZE: z.enum(['720p', '480p']).default('720p'),
  HEARING_LIVE_CAPTION_SPEAKER: z.enum(['role', 'name']).default('role'),
  HEARING_LIVE_SOUND_ONLY: z.enum(['allowed', 'never']).default('allowed'),
  // HTTPS: a certificate and key (PEM files), or one generated for this machine's names and addresses.
  HEARING_TLS_CERT: z.string().min(1).optional(),
  HEARING_TLS_KEY: z.string().min(1).optional(),
  HEARING_TLS: z.enum(['self-signed']).optional(),
  // Behind a reverse proxy: Express's `trust proxy` (e.g. `loopback`, `1`, or addresses/CIDRs).
  HEARING_TRUST_PROXY: z.string().trim().min(1).max(500).optional(),
  // TURN: coturn run by the server, or an external one sharing its `static-auth-secret`.
  // SIP terminals (server/sip/): off unless a port is given.
  HEARING_SIP_PORT: port.optional(),
  HEARING_SIP_HOST: z.string().trim().min(1).optional(),
  HEARING_SIP_RTP_TIMEOUT_S: z.coerce.number().positive().max(600).default(30),
  // Loopback ports the terminals' feeds (the hearing's picture and sound for each call) are encoded to.
  HEARING_SIP_FEED_PORT_MIN: port.default(19000),
  HEARING_SIP_FEED_PORT_MAX: port.default(19999),
  // Courtroom cameras pushing RTMP (server/sources/rtmp.ts): off unless a port is given.
  HEARING_RTMP_PORT: port.optional(),
  HEARING_RTMP_HOST: z.string().trim().min(1).optional(),
  // RTMPS beside it (the server's TLS certificate): cameras that can push over TLS.
  HEARING_RTMPS_PORT: port.optional(),
  HEARING_TURN: z.enum(['embedded']).optional(),
  HEARING_TURN_URLS: z.string().trim().min(1).optional(),
  HEARING_TURN_SECRET: z.string().optional(),
  HEARING_TURN_POLICY: z.enum(['all', 'relay']).default('all'),
  HEARING_TURN_HOST: z.string().trim().min(1).optional(),
  HEARING_TURN_LISTEN_IP: z.string().trim().min(1).optional(),
  HEARING_TURN_PORT: port.default(3478),
  HEARING_TURN_TLS_PORT: port.default(5349),
  // Above mediasoup's 40000-49999, clear of it.
  HEARING_TURN_RELAY_MIN: port.default(50000),
  HEARING_TURN_RELAY_MAX: port.default(50999),
  HEARING_TURN_MAX_KBPS: z.coerce.number().int().min(32).max(1_000_000).optional(),
  // Cluster mode (server/cluster/): the nodes' shared Redis, this node's id and the address the other
  // nodes reach it at (default: its own URL), how long a drained node waits for its hearings in session.
  HEARING_REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
    .optional(),
  HEARING_NODE_ID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)')
    .optional(),
  HEARING_NODE_URL: z.string().trim().url().optional(),
  // The store the nodes share (PostgreSQL); without it each node keeps its own SQLite file.
  HEARING_DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
    .optional(),
  // A folder every node mounts (records and the record key): a lost node's hearing goes on elsewhere with its record.
  HEARING_SHARED_DIR: z.string().trim().min(1).optional(),
  HEARING_DRAIN_DEADLINE_S: z.coerce
    .number()
    .positive()
    .max(86_400)
    .default(4 * 3600),
  // Viewers of one hearing a node serves itself; the next are served by a second node (0: never).
  HEARING_GALLERY_AFTER: z.coerce.number().int().min(0).max(100_000).default(200),
  HEARING_DEMO: z.enum(['0', '1']).default('1'),
  HEARING_LANG: z.enum(LANGUAGES).default('zh-CN'),
  HEARING_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

/** TURN for participants who cannot reach the media ports (see server/app/turn.ts). */
export type TurnConfig = {
  /** `relay`: clients use TURN only (a court network that must not send media directly). */
  policy: 'all' | 'relay';
} & (
  | { mode: 'external'; urls: string[]; secret: string }
  | {
      mode: 'embedded';
      /** The name or address clients reach coturn at (in the TURN URLs). */
      host: string;
      /** Where coturn listens (all addresses when unset). */
      listenIp?: string;
      port: number;
      tlsPort: number;
      relayMin: number;
      relayMax: number;
      /**
       * `HEARING_TURN_MAX_KBPS`: what one relayed participant may send and receive through coturn, each
       * way (coturn's `max-bps`); beyond it coturn drops. Unset: no cap.
       */
      maxKbps?: number;
      /** From `HEARING_TURN_SECRET`, else generated into the secrets file. */
      secret?: string;
    }
);

/** A TURN shared secret this short can be guessed offline from one captured credential. */
export const TURN_SECRET_MIN = 32;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Base URL for join links; default http://127.0.0.1:<port>. */
  publicUrl?: string;
  listenIp: string;
  announcedIp?: string;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** RTCP NACK for the microphones' Opus (retransmission beside FEC); see workers/media/room.ts. */
  opusNack: boolean;
  workers: number;
  apiKey?: string;
  jwtSecret?: string;
  tokenTtlSeconds: number;
  webhookUrl?: string;
  webhookSecret?: string;
  /** `HEARING_ID_KEY`: key of the hash kept of ID numbers (else generated into the secrets file). */
  idKey?: string;
  /** First retry delay; doubles per attempt (6 attempts). */
  webhookRetryMs: number;
  /** How recorded tracks are written: muxed in the recorder process, or one ffmpeg per track (the old way). */
  recordWriter: 'mux' | 'ffmpeg';
  /** How long the recorder holds a hole in a track's RTP sequence open for its repair (NACK) before it is a gap. */
  recordHoldMs: number;
  /** UDP ports the recorder's ffmpeg processes listen on (RTP + RTCP pairs), with `recordWriter: 'ffmpeg'`. */
  recordPortMin: number;
  recordPortMax: number;
  /** Origins allowed to embed the pages in a frame (CSP frame-ancestors), space-separated; none by default. */
  frameAncestors: string;
  /** Failed authentications an address may make in a minute before it is refused for a minute. */
  authFailuresPerMinute: number;
  /**
   * A participant whose connection dropped (no goodbye: a tunnel, a network change) keeps their
   * transports, producers and consumers this long; a page that comes back within it resumes them.
   */
  reconnectGraceMs: number;
  /** Sign the record's chain head into it this often (seconds) or after this many lines. */
  recordCheckpoint: { seconds: number; lines: number };
  asrEngine: 'pocketsphinx' | 'whisper' | 'off';
  asrLanguage: 'en' | 'zh' | 'auto';
  /** whisper ggml model file (e.g. ggml-base.bin); without it the whisper engine is unavailable. */
  asrModel?: string;
  facePortMin: number;
  facePortMax: number;
  identity: IdentityConfig;
  live: LiveConfig;
  /** UDP ports the transcriber's decoders listen on. */
  asrPortMin: number;
  asrPortMax: number;
  /** HTTPS: PEM files, or `self-signed` (generated into the data dir for this machine's names/IPs). */
  tls?: { cert: string; key: string } | 'self-signed';
  /** Express `trust proxy` (the client address and scheme come from the proxy's X-Forwarded-* headers). */
  trustProxy?: string;
  turn?: TurnConfig;
  /**
   * The SIP gateway (UDP and TCP on `port`, on `listenIp`): terminals dial `sip:<hearing code>@host:port`.
   * `host`: the name or address terminals reach it at (default: the announced or listen IP). A call whose
   * terminal sends no RTP for `rtpTimeoutMs` has vanished (no BYE) and is ended.
   */
  sip?: { port: number; host?: string; rtpTimeoutMs: number; feedPortMin?: number; feedPortMax?: number };
  /**
   * The RTMP listener for courtroom cameras that push (on `listenIp`, `port`), and RTMPS on `tlsPort` with
   * the server's certificate; `host` is the name or address in the push URLs handed out (default: the
   * announced or listen IP).
   */
  rtmp?: { port: number; host?: string; tlsPort?: number };
  /**
   * Cluster mode: nodes share `redisUrl`; `nodeId` names this node (default: host name and port),
   * `nodeUrl` is where the other nodes pass requests on to (default: the server's own URL);
   * `drainDeadlineSeconds`: a node told to drain (SIGTERM, POST /api/v1/admin/drain) exits when no
   * hearing is in session there, or after this long.
   */
  cluster?: {
    redisUrl: string;
    nodeId?: string;
    nodeUrl?: string;
    databaseUrl?: string;
    /** Records and the record key on a folder every node mounts (a lost node's hearings are then moved). */
    sharedDir?: string;
    drainDeadlineSeconds: number;
    /**
     * Viewers of one hearing its node serves itself: the next viewers' media are served by another node,
     * which the hosting node pipes the hearing's media to once (0: a hearing's viewers all stay on its node).
     */
    galleryAfter: number;
  };
  demo: boolean;
  /** `HEARING_LANG`: the language of what the server renders for people (program labels, slates, captions). */
  lang: Language;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** Reads the configuration from the environment; every variable has an embedded default. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.HEARING_DATABASE_URL && !e.HEARING_REDIS_URL)
    throw new Error('HEARING_DATABASE_URL is the store of a cluster: set HEARING_REDIS_URL too (a server alone keeps SQLite)');
  if (e.HEARING_RTC_MIN_PORT >= e.HEARING_RTC_MAX_PORT) throw new Error('HEARING_RTC_MIN_PORT must be below HEARING_RTC_MAX_PORT');
  if (e.HEARING_IDENTITY_ACCEPT >= e.HEARING_IDENTITY_REJECT)
    throw new Error('HEARING_IDENTITY_ACCEPT must be below HEARING_IDENTITY_REJECT');
  if (e.HEARING_IDENTITY_MAX_FRAMES !== undefined && e.HEARING_IDENTITY_MAX_FRAMES < e.HEARING_IDENTITY_FRAMES)
    throw new Error('HEARING_IDENTITY_MAX_FRAMES must be at least HEARING_IDENTITY_FRAMES');
  return { ...base(e), tls: tlsFrom(e), turn: turnFrom(e) };
}

type Env = z.infer<typeof envSchema>;

function tlsFrom(e: Env): Config['tls'] {
  if (!e.HEARING_TLS_CERT !== !e.HEARING_TLS_KEY) throw new Error('HEARING_TLS_CERT and HEARING_TLS_KEY go together');
  if (e.HEARING_RTMPS_PORT !== undefined && e.HEARING_RTMP_PORT === undefined)
    throw new Error('HEARING_RTMPS_PORT goes with HEARING_RTMP_PORT (the server plays the pushes back over plain RTMP on its own address)');
  if (e.HEARING_RTMPS_PORT !== undefined && !e.HEARING_TLS_CERT && !e.HEARING_TLS)
    throw new Error("HEARING_RTMPS_PORT needs the server's certificate: HEARING_TLS_CERT/HEARING_TLS_KEY or HEARING_TLS=self-signed");
  if (e.HEARING_TLS_CERT && e.HEARING_TLS) throw new Error('HEARING_TLS=self-signed or HEARING_TLS_CERT/HEARING_TLS_KEY, not both');
  if (e.HEARING_TLS_CERT && e.HEARING_TLS_KEY) return { cert: path.resolve(e.HEARING_TLS_CERT), key: path.resolve(e.HEARING_TLS_KEY) };
  return e.HEARING_TLS;
}

function turnFrom(e: Env): TurnConfig | undefined {
  const secret = e.HEARING_TURN_SECRET;
  if (secret !== undefined && secret.length < TURN_SECRET_MIN)
    throw new Error(`HEARING_TURN_SECRET is too weak: at least ${TURN_SECRET_MIN} characters (e.g. \`openssl rand -base64 32\`)`);
  const policy = e.HEARING_TURN_POLICY;
  if (e.HEARING_TURN === 'embedded') {
    if (e.HEARING_TURN_URLS) throw new Error('HEARING_TURN=embedded runs its own TURN server: HEARING_TURN_URLS is for an external one');
    if (e.HEARING_TURN_RELAY_MIN >= e.HEARING_TURN_RELAY_MAX)
      throw new Error('HEARING_TURN_RELAY_MIN must be below HEARING_TURN_RELAY_MAX');
    const fromUrl = e.HEARING_PUBLIC_URL ? new URL(e.HEARING_PUBLIC_URL).hostname : undefined;
    const host = e.HEARING_TURN_HOST ?? e.HEARING_ANNOUNCED_IP ?? fromUrl;
    if (!host) throw new Error('HEARING_TURN=embedded needs the address clients reach it at: HEARING_TURN_HOST (or HEARING_ANNOUNCED_IP)');
    return {
      mode: 'embedded',
      policy,
      host,
      listenIp: e.HEARING_TURN_LISTEN_IP,
      port: e.HEARING_TURN_PORT,
      tlsPort: e.HEARING_TURN_TLS_PORT,
      relayMin: e.HEARING_TURN_RELAY_MIN,
      relayMax: e.HEARING_TURN_RELAY_MAX,
      ...(e.HEARING_TURN_MAX_KBPS ? { maxKbps: e.HEARING_TURN_MAX_KBPS } : {}),
      secret,
    };
  }
  if (e.HEARING_TURN_URLS) {
    if (!secret) throw new Error("HEARING_TURN_URLS needs HEARING_TURN_SECRET (the TURN server's static-auth-secret)");
    const urls = e.HEARING_TURN_URLS.split(',').map((u) => u.trim());
    const bad = urls.find((u) => !/^turns?:[^\s?]+(\?transport=(udp|tcp))?$/.test(u));
    if (bad !== undefined)
      throw new Error(`HEARING_TURN_URLS: not a TURN URL: ${bad.slice(0, 100)} (e.g. turn:turn.example.org:3478?transport=udp)`);
    return { mode: 'external', policy, urls, secret };
  }
  if (policy === 'relay') throw new Error('HEARING_TURN_POLICY=relay needs a TURN server (HEARING_TURN=embedded or HEARING_TURN_URLS)');
  return undefined;
}

function base(e: Env): Omit<Config, 'tls' | 'turn'> {
  return {
    port: e.PORT,
    host: e.HEARING_HOST,
    dataDir: path.resolve(e.HEARING_DATA_DIR),
    publicUrl: e.HEARING_PUBLIC_URL,
    listenIp: e.HEARING_LISTEN_IP,
    announcedIp: e.HEARING_ANNOUNCED_IP,
    rtcMinPort: e.HEARING_RTC_MIN_PORT,
    rtcMaxPort: e.HEARING_RTC_MAX_PORT,
    opusNack: e.HEARING_OPUS_NACK === '1',
    workers: e.HEARING_WORKERS ?? os.availableParallelism(),
    apiKey: e.HEARING_API_KEY,
    jwtSecret: e.HEARING_JWT_SECRET,
    tokenTtlSeconds: e.HEARING_TOKEN_TTL,
    webhookUrl: e.HEARING_WEBHOOK_URL,
    webhookSecret: e.HEARING_WEBHOOK_SECRET,
    idKey: e.HEARING_ID_KEY,
    webhookRetryMs: e.HEARING_WEBHOOK_RETRY_MS,
    recordWriter: e.HEARING_RECORD_WRITER,
    recordHoldMs: e.HEARING_RECORD_HOLD_MS,
    recordPortMin: e.HEARING_RECORD_PORT_MIN,
    recordPortMax: e.HEARING_RECORD_PORT_MAX,
    authFailuresPerMinute: e.HEARING_AUTH_FAILURES_PER_MIN,
    reconnectGraceMs: e.HEARING_RECONNECT_GRACE_S * 1000,
    ...(e.HEARING_SIP_PORT !== undefined
      ? {
          sip: {
            port: e.HEARING_SIP_PORT,
            host: e.HEARING_SIP_HOST,
            rtpTimeoutMs: e.HEARING_SIP_RTP_TIMEOUT_S * 1000,
            feedPortMin: e.HEARING_SIP_FEED_PORT_MIN,
            feedPortMax: e.HEARING_SIP_FEED_PORT_MAX,
          },
        }
      : {}),
    ...(e.HEARING_REDIS_URL
      ? {
          cluster: {
            redisUrl: e.HEARING_REDIS_URL,
            ...(e.HEARING_NODE_ID ? { nodeId: e.HEARING_NODE_ID } : {}),
            ...(e.HEARING_NODE_URL ? { nodeUrl: e.HEARING_NODE_URL } : {}),
            ...(e.HEARING_DATABASE_URL ? { databaseUrl: e.HEARING_DATABASE_URL } : {}),
            ...(e.HEARING_SHARED_DIR ? { sharedDir: e.HEARING_SHARED_DIR } : {}),
            drainDeadlineSeconds: e.HEARING_DRAIN_DEADLINE_S,
            galleryAfter: e.HEARING_GALLERY_AFTER,
          },
        }
      : {}),
    ...(e.HEARING_RTMP_PORT !== undefined
      ? {
          rtmp: {
            port: e.HEARING_RTMP_PORT,
            host: e.HEARING_RTMP_HOST,
            ...(e.HEARING_RTMPS_PORT !== undefined ? { tlsPort: e.HEARING_RTMPS_PORT } : {}),
          },
        }
      : {}),
    frameAncestors: e.HEARING_FRAME_ANCESTORS ?? (e.HEARING_DEMO === '1' ? "'self'" : ''),
    recordCheckpoint: { seconds: e.HEARING_RECORD_CHECKPOINT_S, lines: e.HEARING_RECORD_CHECKPOINT_LINES },
    facePortMin: e.HEARING_FACE_PORT_MIN,
    facePortMax: e.HEARING_FACE_PORT_MAX,
    identity: {
      requiredRoles: e.HEARING_IDENTITY_REQUIRED_ROLES,
      accept: e.HEARING_IDENTITY_ACCEPT,
      reject: e.HEARING_IDENTITY_REJECT,
      frames: e.HEARING_IDENTITY_FRAMES,
      maxFrames: e.HEARING_IDENTITY_MAX_FRAMES ?? Math.max(DEFAULT_THRESHOLDS.maxFrames, e.HEARING_IDENTITY_FRAMES),
      timeoutSeconds: e.HEARING_IDENTITY_TIMEOUT_S,
      recheckSeconds: e.HEARING_IDENTITY_RECHECK_S,
      absentSeconds: e.HEARING_IDENTITY_ABSENT_S,
      checkSampleMs: 700,
      watchSampleMs: 5000,
    },
    live: {
      delaySeconds: e.HEARING_LIVE_DELAY_S,
      size: e.HEARING_LIVE_SIZE,
      captionSpeaker: e.HEARING_LIVE_CAPTION_SPEAKER,
      soundOnly: e.HEARING_LIVE_SOUND_ONLY,
      portMin: e.HEARING_LIVE_PORT_MIN,
      portMax: e.HEARING_LIVE_PORT_MAX,
    },
    asrEngine: e.HEARING_ASR_ENGINE,
    asrLanguage: e.HEARING_ASR_LANGUAGE,
    asrModel: e.HEARING_ASR_MODEL,
    asrPortMin: e.HEARING_ASR_PORT_MIN,
    asrPortMax: e.HEARING_ASR_PORT_MAX,
    trustProxy: e.HEARING_TRUST_PROXY,
    demo: e.HEARING_DEMO === '1',
    lang: e.HEARING_LANG,
    logLevel: e.HEARING_LOG_LEVEL,
  };
}
