// One medium of a SIP call, between the terminal and the hearing's mediasoup PlainTransport. mediasoup
// 3.12 takes RTP on a plain transport only for an SSRC (or MID/RID) it was given, and terminals seldom
// say theirs in SDP: the relay learns it from the first packet (and a new one if the terminal changes
// it, e.g. after a hold), so that the producer can be made for it. It also latches onto the address the
// terminal really sends from (a terminal behind NAT) and carries mediasoup's RTCP (key frame requests,
// NACK) back to it. Packets are passed on unchanged.
//
// The other way, what the terminal receives (the hearing's sound and picture, made by server/sip/feed.ts)
// arrives on a loopback port pair of the relay's (`feedPort`, RTCP on the next) and goes out from the
// same socket the terminal sends to (symmetric RTP: a terminal behind NAT gets it through the hole its own
// packets opened).
import dgram from 'node:dgram';
import net from 'node:net';

interface Endpoint {
  address: string;
  rtp: number;
  rtcp: number;
}

/** RTCP packet types are 192–223 in the second byte (RFC 5761: how a muxed port tells them apart). */
const isRtcp = (b: Buffer): boolean => b.length >= 2 && b[1]! >= 192 && b[1]! <= 223;

export class MediaRelay {
  /** Packets from the terminal (RTP and RTCP). */
  packets = 0;
  /** RTP packets of the feed (what the terminal receives), sent on or, before the terminal has sent, held back. */
  fed = 0;
  private ssrc: number | undefined;
  private closed = false;
  /** The terminal has sent from where it really is: only then does the feed go to it (see openFeed). */
  private latched = false;
  private feed: dgram.Socket[] = [];

  private constructor(
    private readonly rtpSock: dgram.Socket,
    private readonly rtcpSock: dgram.Socket | undefined,
    private terminal: Endpoint,
    private readonly allowed: ReadonlySet<string>,
    private readonly sfu: Endpoint,
    private readonly onSsrc: (ssrc: number) => void,
  ) {
    rtpSock.on('message', (m, from) => this.onMessage(m, from, 'rtp'));
    rtcpSock?.on('message', (m, from) => this.onMessage(m, from, 'rtcp'));
    // A send to a terminal that has gone (ICMP unreachable) must not take the server down.
    for (const s of [rtpSock, rtcpSock]) s?.on('error', () => undefined);
  }

  /**
   * Sockets on `ip` for the terminal (`mux`: RTP and RTCP on one port; `signalledFrom`: the address its
   * SIP came from), passing packets to and from
   * mediasoup's transport at `sfu`. `onSsrc` is called with the terminal's SSRC when it first sends, and
   * again when it changes.
   */
  static async open(
    ip: string,
    terminal: Endpoint & { signalledFrom: string },
    sfu: Endpoint,
    mux: boolean,
    onSsrc: (ssrc: number) => void,
  ): Promise<MediaRelay> {
    const bind = (): Promise<dgram.Socket> =>
      new Promise((resolve, reject) => {
        const s = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
        s.once('error', reject);
        s.bind(0, ip, () => resolve(s));
      });
    const rtp = await bind();
    const rtcp = mux ? undefined : await bind();
    const { signalledFrom, ...endpoint } = terminal;
    return new MediaRelay(rtp, rtcp, endpoint, new Set([endpoint.address, signalledFrom]), sfu, onSsrc);
  }

  get rtpPort(): number {
    return this.rtpSock.address().port;
  }

  get rtcpPort(): number | undefined {
    return this.rtcpSock?.address().port;
  }

  /**
   * Opens the loopback port pair the feed's encoder sends this medium to (RTP on the even port, RTCP on the
   * next), taken from `take` (a port pair that may meanwhile have been bound elsewhere is skipped).
   */
  async openFeed(take: () => number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const port = take();
      const bound: dgram.Socket[] = [];
      try {
        for (const p of [port, port + 1]) {
          const s = dgram.createSocket('udp4');
          s.on('error', () => undefined);
          await new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.bind(p, '127.0.0.1', () => resolve());
          });
          bound.push(s);
        }
      } catch (error) {
        for (const s of bound) s.close();
        if (attempt >= 5) throw error;
        continue;
      }
      const [rtp, rtcp] = bound as [dgram.Socket, dgram.Socket];
      // Nothing of the hearing goes out before the terminal has sent a packet: the address in its SDP may be
      // a private one behind its NAT, which on the server's network could be some other machine.
      rtp.on('message', (m) => {
        this.fed++;
        if (this.closed || !this.latched) return;
        this.rtpSock.send(m, this.terminal.rtp, this.terminal.address);
      });
      rtcp.on(
        'message',
        (m) => !this.closed && this.latched && (this.rtcpSock ?? this.rtpSock).send(m, this.terminal.rtcp, this.terminal.address),
      );
      this.feed = bound;
      return port;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rtpSock.close();
    this.rtcpSock?.close();
    for (const s of this.feed) s.close();
  }

  private onMessage(m: Buffer, from: dgram.RemoteInfo, socket: 'rtp' | 'rtcp'): void {
    if (this.closed || m.length < 8) return;
    const fromSfu = from.address === this.sfu.address && (from.port === this.sfu.rtp || from.port === this.sfu.rtcp);
    const out = socket === 'rtp' ? this.rtpSock : this.rtcpSock!;
    if (fromSfu) {
      // mediasoup's RTCP for the terminal: to where the terminal sends from, and so not before it has sent
      // (as the feed, see openFeed).
      if (!this.latched) return;
      out.send(m, socket === 'rtp' ? this.terminal.rtp : this.terminal.rtcp, this.terminal.address);
      return;
    }
    // From the terminal: only from the address its SDP named, or the one its call came from (behind NAT,
    // the SDP names a private address). A stranger's packets are not the terminal's.
    if (!this.allowed.has(from.address)) return;
    this.packets++;
    this.latched = true;
    // Latching: where it really sends from (NAT) is where mediasoup's RTCP goes back to.
    if (socket === 'rtp') this.terminal = { address: from.address, rtp: from.port, rtcp: this.rtcpSock ? this.terminal.rtcp : from.port };
    else this.terminal = { ...this.terminal, address: from.address, rtcp: from.port };
    if (socket === 'rtp' && !isRtcp(m) && m.length >= 12) {
      const ssrc = m.readUInt32BE(8);
      if (ssrc !== this.ssrc) {
        this.ssrc = ssrc;
        this.onSsrc(ssrc);
      }
    }
    out.send(m, socket === 'rtp' ? this.sfu.rtp : this.sfu.rtcp, this.sfu.address);
  }
}
