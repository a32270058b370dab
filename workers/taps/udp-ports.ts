import fs from 'node:fs';

/** Local UDP ports currently bound on this machine (from /proc/net/udp and udp6). */
export function boundUdpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local) ports.add(parseInt(local.split(':')[1] ?? '0', 16));
    }
  }
  return ports;
}

/** Hands out even/odd port pairs (RTP + RTCP) from a range, skipping pairs that are in use. */
export class PortPairs {
  private next: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.next = min % 2 === 0 ? min : min + 1;
  }

  take(): number {
    const bound = boundUdpPorts();
    const span = Math.floor((this.max - this.min) / 2);
    for (let i = 0; i < span; i++) {
      const port = this.next;
      this.next = this.next + 2 > this.max - 1 ? (this.min % 2 === 0 ? this.min : this.min + 1) : this.next + 2;
      if (!bound.has(port) && !bound.has(port + 1)) return port;
    }
    throw new Error(`no free UDP port pair in ${this.min}-${this.max}`);
  }
}

const waiters = new Map<number, { resolve: (bound: boolean) => void; deadline: number }[]>();
let poller: NodeJS.Timeout | undefined;

/**
 * Resolves true once something has bound the UDP port, false after the timeout. One shared poll of
 * /proc serves every waiter, so many tracks starting at once do not each scan the socket table.
 */
export function waitUntilBound(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const list = waiters.get(port) ?? [];
    list.push({ resolve, deadline: Date.now() + timeoutMs });
    waiters.set(port, list);
    poller ??= setInterval(() => {
      const bound = boundUdpPorts();
      const now = Date.now();
      for (const [p, entries] of waiters) {
        const keep = entries.filter((w) => {
          if (bound.has(p)) w.resolve(true);
          else if (now > w.deadline) w.resolve(false);
          else return true;
          return false;
        });
        if (keep.length) waiters.set(p, keep);
        else waiters.delete(p);
      }
      if (waiters.size === 0) {
        clearInterval(poller);
        poller = undefined;
      }
    }, 20);
  });
}
