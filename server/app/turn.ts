// TURN for participants who cannot reach the media ports directly (mobile networks, hotel Wi-Fi, a
// court's firewall): each participant gets short-lived credentials (coturn's `use-auth-secret`, the TURN
// REST API scheme) that expire with their token. With `HEARING_TURN=embedded` the server runs coturn
// (Debian's) itself, on the same secret; otherwise an external TURN server shares it.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { TurnConfig } from './config.ts';
import { spawnTied } from '../../workers/taps/children.ts';

/** An entry of RTCConfiguration.iceServers. */
export interface IceServer {
  urls: string[];
  username: string;
  credential: string;
}

/** What each participant's transports are given: the TURN servers (with credentials) and the ICE policy. */
export interface IceConfig {
  iceServers: IceServer[];
  iceTransportPolicy: 'all' | 'relay';
}

/**
 * TURN REST API credentials: the username is `<expiry unix time>:<participant>`, the password the
 * base64 HMAC-SHA1 of the username under the shared secret. The TURN server checks both without
 * asking anyone; after the expiry it answers 401.
 */
export function turnCredentials(secret: string, participantId: string, expiresAtSec: number): { username: string; credential: string } {
  const username = `${Math.floor(expiresAtSec)}:${participantId}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** The TURN URLs clients are given: UDP, TCP, and TLS when the server has a certificate. */
export function turnUrls(turn: TurnConfig, tls: boolean): string[] {
  if (turn.mode === 'external') return turn.urls;
  const host = net.isIPv6(turn.host) ? `[${turn.host}]` : turn.host;
  return [
    `turn:${host}:${turn.port}?transport=udp`,
    `turn:${host}:${turn.port}?transport=tcp`,
    ...(tls ? [`turns:${host}:${turn.tlsPort}?transport=tcp`] : []),
  ];
}

export class TurnService {
  private readonly urls: string[];

  constructor(
    private readonly turn: TurnConfig,
    private readonly secret: string,
    tls: boolean,
  ) {
    this.urls = turnUrls(turn, tls);
  }

  /** The ICE configuration of one participant, whose credentials expire with their token. */
  iceFor(participantId: string, expiresAtSec: number): IceConfig {
    return {
      iceServers: [{ urls: this.urls, ...turnCredentials(this.secret, participantId, expiresAtSec) }],
      iceTransportPolicy: this.turn.policy,
    };
  }
}

export interface CoturnOptions {
  dir: string;
  secret: string;
  listenIp?: string;
  port: number;
  tlsPort: number;
  relayMin: number;
  relayMax: number;
  /** The media server's address: the only peer the relay may send to. */
  peerIp: string;
  tls?: { cert: string; key: string };
  /** Each relayed session's cap, each way (kbit/s). */
  maxKbps?: number;
}

/** How long coturn gets to open its ports. */
const START_MS = 10_000;

/**
 * Debian's coturn (`turnserver`), run and watched by the server: started with a generated 0600
 * configuration, restarted if it dies (each time logged), stopped with the server. Its relay may send
 * only to the media server: a TURN server open to any peer lets a participant reach the court's
 * internal network through it.
 */
export class Coturn {
  private child?: ChildProcess;
  private closing = false;
  private restarts = 0;
  private tail = '';

  private constructor(private readonly o: CoturnOptions) {}

  static async start(o: CoturnOptions): Promise<Coturn> {
    const c = new Coturn(o);
    fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(c.confFile, c.configuration(), { mode: 0o600 });
    await c.run();
    return c;
  }

  private get confFile(): string {
    return path.join(this.o.dir, 'turnserver.conf');
  }

  configuration(): string {
    const o = this.o;
    const loopbackPeer = o.peerIp.startsWith('127.') || o.peerIp === '::1';
    return [
      `listening-port=${o.port}`,
      ...(o.listenIp ? [`listening-ip=${o.listenIp}`] : []),
      ...(o.tls ? [`tls-listening-port=${o.tlsPort}`, `cert=${o.tls.cert}`, `pkey=${o.tls.key}`] : ['no-tls']),
      'no-dtls',
      `min-port=${o.relayMin}`,
      `max-port=${o.relayMax}`,
      'use-auth-secret',
      `static-auth-secret=${o.secret}`,
      'realm=hearing-media-core',
      'fingerprint',
      // The relay reaches the media server and nothing else.
      'denied-peer-ip=0.0.0.0-255.255.255.255',
      'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      `allowed-peer-ip=${o.peerIp}`,
      ...(loopbackPeer ? ['allow-loopback-peers', `relay-ip=${o.peerIp}`] : []),
      'no-multicast-peers',
      // coturn counts bytes per second, each direction apart.
      ...(o.maxKbps ? [`max-bps=${o.maxKbps * 125}`] : []),
      'no-cli',
      'no-rfc5780',
      `userdb=${path.join(this.o.dir, 'turndb')}`,
      `pidfile=${path.join(this.o.dir, 'turnserver.pid')}`,
      'log-file=stdout',
      'simple-log',
      '',
    ].join('\n');
  }

  private async run(): Promise<void> {
    const child = spawnTied('turnserver', ['-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (d: Buffer): void => {
      this.tail = (this.tail + d.toString()).slice(-16_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let up = false;
    child.once('exit', (code, signal) => {
      // One that never came up is the start's failure (thrown below), not something to retry forever.
      if (this.closing || this.child !== child || !up) return;
      console.warn(`[turn] coturn exited (${code ?? signal}): ${this.tail.slice(-300)}`);
      this.restart();
    });
    const host = this.o.listenIp ?? '127.0.0.1';
    const until = Date.now() + START_MS;
    while (!(await listening(host, this.o.port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`coturn did not start: ${this.tail.slice(-500)}`);
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(`coturn did not open ${host}:${this.o.port} within ${START_MS / 1000} s: ${this.tail.slice(-500)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    up = true;
  }

  /** Starts coturn again after it died, backing off (1 s more each time, at most 30 s) until it is up. */
  private restart(): void {
    if (this.closing) return;
    this.restarts++;
    setTimeout(
      () => {
        if (this.closing) return;
        console.warn(`[turn] restarting coturn (${this.restarts})`);
        this.run().catch((e: Error) => {
          console.warn(`[turn] ${e.message}`);
          this.restart();
        });
      },
      Math.min(30_000, 1000 * this.restarts),
    ).unref();
  }

  /** What coturn wrote last (its refusals: `check_stun_auth: Cannot find credentials of user …`). */
  get output(): string {
    return this.tail;
  }

  /** coturn's process id (tests kill it to see it come back). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
  }
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
