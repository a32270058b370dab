import { io, type Socket } from 'socket.io-client';

export class SignalingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SignalingError';
  }
}

/** However fast a new connection reached the server, the probed one gets this long to answer. */
export const QUICK_MS = 500;

/**
 * 'dead' once `reachable` answered and four times its round trip (at least QUICK_MS) passed since
 * `started`; never, when it does not answer.
 */
async function deadSooner(reachable: () => Promise<number | undefined>, started: number): Promise<'dead'> {
  const rtt = await reachable();
  if (rtt === undefined) return new Promise<never>(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, Math.max(QUICK_MS, 4 * rtt) - (Date.now() - started)));
  return 'dead';
}

/**
 * The server's round trip over a new HTTP request to `origin`'s /healthz (ms), or undefined when it
 * does not answer within `ms`.
 */
export async function reachServer(origin: string, ms: number): Promise<number | undefined> {
  const started = Date.now();
  try {
    const response = await fetch(new URL('/healthz', origin), { cache: 'no-store', signal: AbortSignal.timeout(ms) });
    await response.body?.cancel();
    return Date.now() - started;
  } catch {
    return undefined;
  }
}

/** The socket.io connection with request/ack as promises; error acks reject with SignalingError. */
export class SignalingClient {
  readonly socket: Socket;
  /** The server's origin (the page's own when no `url` was given). */
  readonly origin: string;

  /** `url`: the server's (the page's own origin when absent). */
  constructor(token: string, options: { autoConnect?: boolean; url?: string } = {}) {
    // A dropped connection is made again after 125–375 ms, doubling up to 3 s while the server stays away.
    const settings = {
      auth: { token },
      transports: ['websocket'],
      reconnectionDelay: 250,
      reconnectionDelayMax: 3000,
      autoConnect: options.autoConnect ?? true,
    };
    this.socket = options.url ? io(options.url, settings) : io(settings);
    this.origin = options.url ? new URL(options.url).origin : location.origin;
  }

  /**
   * Whether the server answers within `ms`. A connection that does not is dead though the browser has
   * not noticed (its network changed under it): it is closed, and socket.io connects again at once.
   * `reachable` reaches the server over a new connection at the same time (its round trip in ms, or
   * undefined): when that answers and this connection stays silent for four times as long (at least
   * QUICK_MS), this one is dead at once — the phone moved to another network, the server is there.
   * When `alive` says the media are still heard, the page may be too busy to hear the answer in time (a
   * slow device), or its media moved to a new address while the connection stayed on the old one: it is
   * asked once more, for twice as long, and closed only if that goes unanswered too.
   */
  async probe(ms: number, alive?: () => Promise<boolean>, reachable?: () => Promise<number | undefined>): Promise<boolean> {
    if (!this.socket.connected) return false;
    const started = Date.now();
    const answered = this.answers(ms);
    const verdict = await Promise.race([answered, reachable ? deadSooner(reachable, started) : answered]);
    if (verdict === true) return true;
    if (verdict === 'dead') {
      console.info(
        `[hearing] a new connection reached the server, this one did not answer within ${Date.now() - started} ms: reconnecting`,
      );
      this.reconnect();
      return false;
    }
    const heard = alive ? await alive() : false;
    console.info(
      `[hearing] the server did not answer within ${ms} ms; ${heard ? 'the media are heard: asking once more' : 'reconnecting'}`,
    );
    if (heard && (await this.answers(2 * ms))) return true;
    if (heard) console.info(`[hearing] the server did not answer again within ${2 * ms} ms: reconnecting`);
    this.reconnect();
    return false;
  }

  private reconnect(): void {
    if (this.socket.connected) this.socket.io.engine.close();
  }

  private async answers(ms: number): Promise<boolean> {
    try {
      await this.socket.timeout(ms).emitWithAck('ping', {});
      return true;
    } catch {
      return false;
    }
  }

  async request<T = Record<string, unknown>>(event: string, data: unknown = {}): Promise<T> {
    const response = (await this.socket.timeout(15_000).emitWithAck(event, data)) as { error?: { code: string; message: string } };
    if (response && typeof response === 'object' && response.error) {
      throw new SignalingError(response.error.code, response.error.message);
    }
    return response as T;
  }
}
