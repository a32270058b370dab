import type { Request, RequestHandler } from 'express';
import { AppError } from './errors.ts';

/**
 * Failed authentications per address (a wrong API key, a forged or expired participant token): past
 * `perMinute` in a minute, the address is refused everything for a minute (429 `too_many_failures`),
 * a right key or token included, so keys and tokens cannot be guessed at speed. Addresses are
 * forgotten a minute after their last failure; at most `maxAddresses` are tracked.
 */
export class AuthFailureLimiter {
  private readonly byAddress = new Map<string, { failures: number[]; blockedUntil: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Throws 429 when `address` is blocked. */
  check(address: string): void {
    const entry = this.byAddress.get(address);
    if (entry && entry.blockedUntil > Date.now()) {
      throw new AppError(429, 'too_many_failures', 'too many failed authentications from this address: try again in a minute');
    }
  }

  /** One failed authentication from `address`. */
  failed(address: string): void {
    const now = Date.now();
    const entry = this.byAddress.get(address) ?? { failures: [], blockedUntil: 0 };
    entry.failures = entry.failures.filter((t) => now - t < 60_000);
    entry.failures.push(now);
    if (entry.failures.length > this.perMinute) entry.blockedUntil = now + 60_000;
    this.byAddress.delete(address); // re-inserted: the map stays ordered by last failure
    this.byAddress.set(address, entry);
    if (this.byAddress.size > this.maxAddresses) {
      for (const [a, e] of this.byAddress) {
        if (this.byAddress.size <= this.maxAddresses) break;
        if (e.blockedUntil < now) this.byAddress.delete(a);
      }
    }
  }

  /** REST: a blocked address gets 429 before any route; every 401 answered counts as a failure. */
  middleware(addressOf: (req: Request) => string = (req) => req.ip ?? req.socket.remoteAddress ?? 'unknown'): RequestHandler {
    return (req, res, next) => {
      // The socket's address, or the client's behind a trusted proxy (HEARING_TRUST_PROXY), or the one
      // another node of the cluster passed the request on for.
      const address = addressOf(req);
      try {
        this.check(address);
      } catch (error) {
        return next(error);
      }
      res.on('finish', () => {
        if (res.statusCode === 401) this.failed(address);
      });
      next();
    };
  }
}
