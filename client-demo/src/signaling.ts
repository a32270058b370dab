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

/** The socket.io connection with request/ack as promises; error acks reject with SignalingError. */
export class SignalingClient {
  readonly socket: Socket;

  /** `url`: the server's (the page's own origin when absent). */
  constructor(token: string, options: { autoConnect?: boolean; url?: string } = {}) {
    const settings = { auth: { token }, transports: ['websocket'], reconnectionDelayMax: 3000, autoConnect: options.autoConnect ?? true };
    this.socket = options.url ? io(options.url, settings) : io(settings);
  }

  /**
   * Whether the server answers within `ms`. A connection that does not is dead though the browser has
   * not noticed (its network changed under it): it is closed, and socket.io connects again at once.
   * When `alive` says the media are still heard, the page may be too busy to hear the answer in time (a
   * slow device), or its media moved to a new address while the connection stayed on the old one: it is
   * asked once more, for twice as long, and closed only if that goes unanswered too.
   */
  async probe(ms: number, alive?: () => Promise<boolean>): Promise<boolean> {
    if (!this.socket.connected) return false;
    if (await this.answers(ms)) return true;
    const heard = alive ? await alive() : false;
    console.info(
      `[hearing] the server did not answer within ${ms} ms; ${heard ? 'the media are heard: asking once more' : 'reconnecting'}`,
    );
    if (heard && (await this.answers(2 * ms))) return true;
    if (heard) console.info(`[hearing] the server did not answer again within ${2 * ms} ms: reconnecting`);
    if (this.socket.connected) this.socket.io.engine.close();
    return false;
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
