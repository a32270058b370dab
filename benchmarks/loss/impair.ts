// Child process: a lossy network between a browser and the media server, in user space. This kernel has
// no `sch_netem` (tc answers "Specified qdisc kind is unknown") and no tc actions, so loss, delay and
// jitter are applied by this relay instead: the server announces IMPAIR_IP in its ICE candidates, the
// relay listens on IMPAIR_IP at every port of the server's RTC range and forwards to the server's real
// address, one upstream socket per client. A flow is impaired (both directions, every packet: RTP, RTCP,
// STUN, DTLS) from the moment it carries RTP upstream, i.e. a publisher's send transport; subscribers'
// transports and the ICE/DTLS handshake go through untouched.
import dgram from 'node:dgram';

export interface ImpairConfig {
  listenIp: string;
  targetIp: string;
  portMin: number;
  portMax: number;
  /** Random loss, per packet and direction, in percent. */
  lossPct: number;
  /** Round trip added: half on each direction. */
  rttMs: number;
  /** Uniform ± jitter per packet and direction (reorders packets, as netem's does). */
  jitterMs: number;
  seed: number;
}

export interface ImpairCounters {
  flows: number;
  impairedFlows: number;
  up: { packets: number; dropped: number; rtp: number; rtpDropped: number };
  down: { packets: number; dropped: number };
}

export type ToImpair = { type: 'start'; config: ImpairConfig } | { type: 'counters' };
export type FromImpair =
  { type: 'started'; ports: number } | { type: 'counters'; counters: ImpairCounters } | { type: 'error'; message: string };

/** mulberry32: a small seeded generator, so a run's losses can be reproduced. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RTP (not RTCP): version 2, and a payload type outside RTCP's 192–223 (RFC 5761). */
const isRtp = (p: Buffer): boolean => p.length >= 12 && p[0]! >> 6 === 2 && !(p[1]! >= 192 && p[1]! <= 223);

async function start(c: ImpairConfig): Promise<number> {
  const rand = random(c.seed);
  const counters: ImpairCounters = {
    flows: 0,
    impairedFlows: 0,
    up: { packets: 0, dropped: 0, rtp: 0, rtpDropped: 0 },
    down: { packets: 0, dropped: 0 },
  };
  process.on('message', (m: ToImpair) => m.type === 'counters' && process.send?.({ type: 'counters', counters } satisfies FromImpair));
  /** Drops or delays one packet; returns whether it was dropped. */
  const pass = (impaired: boolean, deliver: () => void): boolean => {
    if (!impaired) {
      deliver();
      return false;
    }
    if (rand() * 100 < c.lossPct) return true;
    const delay = Math.max(0, c.rttMs / 2 + (rand() * 2 - 1) * c.jitterMs);
    setTimeout(deliver, delay);
    return false;
  };
  let bound = 0;
  for (let port = c.portMin; port <= c.portMax; port++) {
    const front = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    const flows = new Map<string, { back: dgram.Socket; impaired: boolean }>();
    front.on('message', (packet, from) => {
      const key = `${from.address}:${from.port}`;
      let flow = flows.get(key);
      if (!flow) {
        const back = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
        const created = { back, impaired: false };
        flow = created;
        flows.set(key, created);
        counters.flows++;
        back.on('message', (reply) => {
          counters.down.packets++;
          if (pass(created.impaired, () => front.send(reply, from.port, from.address))) counters.down.dropped++;
        });
        back.bind(0, c.targetIp);
      }
      const rtp = isRtp(packet);
      if (rtp && !flow.impaired) {
        flow.impaired = true;
        counters.impairedFlows++;
      }
      counters.up.packets++;
      if (rtp) counters.up.rtp++;
      const current = flow;
      if (pass(flow.impaired, () => current.back.send(packet, port, c.targetIp))) {
        counters.up.dropped++;
        if (rtp) counters.up.rtpDropped++;
      }
    });
    const ok = await new Promise<boolean>((resolve) => {
      front.once('error', () => resolve(false));
      front.bind(port, c.listenIp, () => resolve(true));
    });
    if (ok) bound++;
  }
  return bound;
}

process.on('message', (m: ToImpair) => {
  if (m.type !== 'start') return;
  start(m.config).then(
    (ports) => process.send?.({ type: 'started', ports } satisfies FromImpair),
    (error: Error) => process.send?.({ type: 'error', message: error.message } satisfies FromImpair),
  );
});
