import { createHmac } from 'node:crypto';

export interface WebhookEvent {
  id: number;
  type: string;
  hearingId: string | null;
  at: string;
  data: Record<string, unknown>;
}

export interface WebhookOptions {
  url: string;
  secret: string;
  maxAttempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  onFailure?: (event: WebhookEvent, error: string) => void;
}

/** Signature a receiver recomputes: hex HMAC-SHA256 of `<timestamp>.<raw body>` with the shared secret. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Delivers hearing events to the court platform: POST JSON, signed, retried with exponential backoff.
 * Deliveries are sequential so the receiver sees events in order.
 */
export class WebhookSender {
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: WebhookOptions) {}

  send(event: WebhookEvent): void {
    if (this.stopped) return;
    this.queue = this.queue.then(() => this.deliver(event));
  }

  /**
   * Shutdown: gives pending deliveries up to `graceMs`, then stops retrying. Undelivered events stay
   * in the audit log, which receivers read back with GET /api/v1/hearings/:id/events?after=<last id>.
   */
  async stop(graceMs = 2000): Promise<void> {
    await Promise.race([this.queue, new Promise((resolve) => setTimeout(resolve, graceMs))]);
    this.stopped = true;
  }

  private async deliver(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    const attempts = this.options.maxAttempts ?? 6;
    let lastError = '';
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      try {
        const response = await fetch(this.options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-hearing-event': event.type,
            'x-hearing-delivery': String(event.id),
            'x-hearing-timestamp': timestamp,
            'x-hearing-signature': `sha256=${signWebhook(this.options.secret, timestamp, body)}`,
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        if (response.ok) return;
        lastError = `HTTP ${response.status}`;
      } catch (error) {
        lastError = String(error);
      }
      if (attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, (this.options.baseDelayMs ?? 500) * 2 ** (attempt - 1)));
      }
    }
    if (!this.stopped) this.options.onFailure?.(event, lastError);
  }
}
