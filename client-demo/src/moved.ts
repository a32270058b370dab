// Cluster mode: a hearing's node may be lost (killed, cut off); the cluster places its hearing on a live
// node within seconds. A page whose connection stays down asks the other nodes (the addresses the server
// gave at join) where its hearing is held now and, if that is another node, goes there and joins again.
import type { Socket } from 'socket.io-client';

/**
 * How long the connection must stay down before the page asks elsewhere. Asking costs nothing when the
 * node is only out of reach for a moment: the others then name this same node, and the page stays.
 */
const DOWN_MS = 1000;

export function findMovedHearing(o: { socket: Socket; token: string; doors: () => string[] }): void {
  let downSince: number | undefined;
  let asking = false;
  // The node says it gave the hearing up (another node took it over while this one was frozen or cut
  // off): the others are asked at once, and again until one names where it is held.
  let movedAway = false;
  o.socket.on('moved', () => {
    movedAway = true;
    downSince = 0;
  });
  o.socket.on('disconnect', (reason) => {
    if (movedAway) return;
    // The server or this page ended the connection on purpose: nothing was lost.
    if (reason !== 'io client disconnect' && reason !== 'io server disconnect') downSince = Date.now();
  });
  o.socket.on('connect', () => (downSince = undefined));
  setInterval(() => {
    if (asking || downSince === undefined || Date.now() - downSince < DOWN_MS) return;
    asking = true;
    void where(o.doors(), o.token).then(
      (url) => {
        asking = false;
        if (!url || downSince === undefined) return;
        console.info(`[hearing] moved: the hearing is now held at ${url}`);
        location.replace(`${url}/join?token=${encodeURIComponent(o.token)}&moved=1`);
      },
      () => (asking = false),
    );
  }, 500);
}

/** The first answer of another node about where the hearing is, if it is no longer here. */
async function where(doors: string[], token: string): Promise<string | undefined> {
  for (const door of doors) {
    if (new URL(door).origin === location.origin) continue;
    try {
      const r = await fetch(`${door}/api/v1/where?token=${encodeURIComponent(token)}`, { signal: AbortSignal.timeout(2000) });
      if (!r.ok) continue;
      const { url } = (await r.json()) as { url?: string };
      if (url && new URL(url).origin !== location.origin) return url;
    } catch {
      // that node is away too: ask the next one
    }
  }
  return undefined;
}
