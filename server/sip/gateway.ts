// The SIP gateway: videoconference terminals (courtrooms, detention centres) dial a hearing and join it as
// participants. npm `sip` is the SIP stack (parsing, transactions, UDP and TCP); this file is the user
// agent server on top: digest authentication against the terminal's account, the offer/answer, the
// call's media through mediasoup PlainTransports, and the call's life (ACK, BYE, re-INVITE, CANCEL,
// OPTIONS, a terminal that vanishes without BYE).
//
// What a terminal gets back is the hearing's mixed sound (minus its own) and composed picture
// (server/sip/feed.ts), through the same relays.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import sip, { type Remote, type SipMessage, type SipUri, type Stack } from 'sip';
import digest from 'sip/digest.js';
import type { types } from 'mediasoup';
import type { HearingService } from '../hearing/hearings.ts';
import type { MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';
import type { Signaling } from '../signaling/signaling.ts';
import type { Store } from '../store/store.ts';
import type { AuthFailureLimiter } from '../http/auth-limit.ts';
import { SIP_REALM } from './accounts.ts';
import { answerFor, parseOffer, type OfferedMedia, type ParsedOffer, type SoundCodec } from './sdp.ts';
import { SoundTranscoder, TRANSCODED } from './transcoder.ts';
import path from 'node:path';
import { MediaRelay } from './relay.ts';
import { feedDir, TerminalFeed } from './feed.ts';
import { PortPairs } from '../../workers/taps/udp-ports.ts';
import { translator, type Language } from '../i18n/i18n.ts';
import type { TFunction } from 'i18next';
import { programWords, type RtpOutput } from '../../workers/livestream/program.ts';

/** A challenge's nonce is good this long. */
const NONCE_MS = 5 * 60_000;
/** At most this many outstanding nonces (the oldest go first). */
const MAX_NONCES = 10_000;
/** RFC 3261 timers: a 2xx to an INVITE is sent again at T1, doubling up to T2, until the ACK, for 64·T1. */
const T1_MS = 500;
const T2_MS = 4000;
/** How often a call's media are checked for life. */
const RTP_CHECK_MS = 2000;
/** The most calls at once (each holds transports and a producer per medium). */
const MAX_CALLS = 200;
/** The most a SIP message may be (headers / body): a terminal's INVITE is a few kB. */
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 16 * 1024;

export interface SipGatewayOptions {
  port: number;
  /** The address the gateway listens on (and announces in SDP unless `announcedIp`). */
  listenIp: string;
  announcedIp?: string;
  /** The name or address terminals dial (the URI's host). */
  host?: string;
  rtpTimeoutMs: number;
  store: Store;
  hearings: HearingService;
  plane: MediaPlane;
  signaling: Signaling;
  authLimiter: AuthFailureLimiter;
  /** Where a call's feed keeps its files, and its language (the roles under the tiles). */
  dataDir: string;
  lang: Language;
  /** Loopback ports the feeds' encoders send to (default 19000-19999). */
  feedPortMin?: number;
  feedPortMax?: number;
}

interface Call {
  callId: string;
  hearingId: string;
  participantId: string;
  /** Our tag (the To tag of our answers, the From tag of our requests). */
  localTag: string;
  /** The terminal's From (with its tag) and where to send in-dialog requests. */
  remoteFrom: SipMessage['headers']['from'];
  remoteTarget: string;
  remote: Remote;
  routeSet?: unknown;
  /** The INVITE's To (what the terminal dialled). */
  localUri: string;
  cseq: number;
  answer: string;
  /** The 200 OK sent again until the ACK. */
  ok?: SipMessage;
  retransmit?: NodeJS.Timeout;
  acked: boolean;
  transports: types.PlainTransport[];
  relays: MediaRelay[];
  /** The terminal's producers, one a medium, made when its first packet shows its SSRC. */
  producers: types.Producer[];
  /** Each medium's transport and SSRC as last seen (a witness's are produced only once called in). */
  media: Map<string, { t: OfferedMedia; transport: types.PlainTransport; ssrc: number }>;
  /** A witness waiting to be called in: its sound and picture are held back, and it receives a card. */
  waiting: boolean;
  /** What the terminal receives: the hearing without itself. */
  feed?: TerminalFeed;
  /** G.722/G.711 sound turned into Opus on its way in. */
  transcoders: SoundTranscoder[];
  watchdog?: NodeJS.Timeout;
  ended: boolean;
}

export class SipGateway {
  private stack?: Stack;
  private readonly calls = new Map<string, Call>();
  private readonly nonces = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly feedPorts: PortPairs;
  private readonly t: TFunction;
  port = 0;

  private constructor(private readonly o: SipGatewayOptions) {
    this.feedPorts = new PortPairs(o.feedPortMin ?? 19000, o.feedPortMax ?? 19999);
    this.t = translator(o.lang);
    const onEvent = (e: { action: string; hearingId: string | null; detail: Record<string, unknown> }): void => {
      if (e.action === 'hearing.state_changed' && e.detail.to === 'closed' && e.hearingId)
        for (const call of this.calls.values()) if (call.hearingId === e.hearingId) this.end(call, 'hearing closed', true);
    };
    o.hearings.on('event', onEvent);
    // The judge hangs up on a terminal: BYE, and it leaves the hearing with who did it.
    o.signaling.hangUp = (participantId, by) => {
      const call = [...this.calls.values()].find((c) => c.participantId === participantId && !c.ended);
      if (call) this.end(call, 'hung up by the court', true, { by });
    };
    // A witness's terminal called in (its sound and picture go into the courtroom, it receives the hearing)
    // or sent back to wait (they leave it, it receives the card again).
    o.signaling.witnessCalled = async (participantId, called) => {
      const call = [...this.calls.values()].find((c) => c.participantId === participantId && !c.ended);
      if (!call || call.waiting === !called) return;
      call.waiting = !called;
      if (called) for (const m of call.media.values()) await this.produce(call, m.t, m.transport, m.ssrc);
      else {
        for (const p of call.producers) p.close();
        call.producers = [];
      }
      call.feed?.refresh();
    };
    this.unsubscribe = () => {
      o.hearings.off('event', onEvent);
      o.signaling.hangUp = undefined;
      o.signaling.witnessCalled = undefined;
    };
  }

  /** Listens on UDP and TCP (`port` 0: a free port for both). */
  static async start(o: SipGatewayOptions): Promise<SipGateway> {
    const gateway = new SipGateway(o);
    gateway.port = o.port || (await freePort(o.listenIp));
    // The stack binds without reporting a failure (it would surface as an uncaught error): the port is
    // tried first, and a port in use is a clear error at start.
    await assertFree(o.listenIp, gateway.port);
    gateway.stack = sip.create(
      {
        port: gateway.port,
        address: o.listenIp,
        publicAddress: gateway.host,
        udp: true,
        tcp: true,
        maxBytesHeaders: MAX_HEADER_BYTES,
        maxContentLength: MAX_BODY_BYTES,
        logger: { error: (e) => console.warn(`[sip] ${(e as Error)?.message ?? String(e)}`.slice(0, 300)) },
      },
      (rq, remote) => {
        void gateway.onRequest(rq, remote).catch((error: unknown) => {
          console.warn(`[sip] ${rq.method} from ${remote.address}: ${(error as Error).message}`);
          if (rq.method !== 'ACK') gateway.reply(rq, 500, 'Server Internal Error');
        });
      },
    );
    return gateway;
  }

  /** The host terminals dial. */
  get host(): string {
    return this.o.host ?? this.o.announcedIp ?? this.o.listenIp;
  }

  /** Calls in progress, for the hearing's participants list and the tests. */
  callOf(
    participantId: string,
  ): { hearingId: string; producers: types.Producer[]; transports: types.PlainTransport[]; fed: number; received: number } | undefined {
    const call = [...this.calls.values()].find((c) => c.participantId === participantId && !c.ended);
    if (!call) return undefined;
    const { relays } = call;
    const sum = (f: (r: (typeof relays)[number]) => number): number => relays.reduce((n, r) => n + f(r), 0);
    return {
      hearingId: call.hearingId,
      producers: call.producers,
      transports: call.transports,
      fed: sum((r) => r.fed),
      received: sum((r) => r.packets),
    };
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const call of this.calls.values()) this.end(call, 'server shutting down', true);
    // The BYEs go out before the sockets close.
    await new Promise((r) => setTimeout(r, 50));
    this.stack?.destroy();
  }

  private async onRequest(rq: SipMessage, remote: Remote): Promise<void> {
    switch (rq.method) {
      case 'INVITE':
        return rq.headers.to.params.tag ? this.reInvite(rq) : this.invite(rq, remote);
      case 'ACK': {
        const call = this.calls.get(rq.headers['call-id']);
        if (call) {
          call.acked = true;
          clearTimeout(call.retransmit);
        }
        return;
      }
      case 'BYE': {
        const call = this.calls.get(rq.headers['call-id']);
        if (!call || call.ended) return this.reply(rq, 481, 'Call/Transaction Does Not Exist');
        this.reply(rq, 200, 'OK');
        this.end(call, 'hung up', false);
        return;
      }
      case 'CANCEL':
        // An INVITE is answered at once (no ringing): by the time a CANCEL comes, there is nothing to cancel.
        return this.reply(rq, 481, 'Call/Transaction Does Not Exist');
      case 'OPTIONS':
        return this.reply(rq, 200, 'OK', { allow: ALLOW, accept: 'application/sdp' });
      case 'UPDATE': {
        const call = this.calls.get(rq.headers['call-id']);
        return call && !call.ended ? this.reply(rq, 200, 'OK', timerHeaders(rq)) : this.reply(rq, 481, 'Call/Transaction Does Not Exist');
      }
      default:
        return this.reply(rq, 405, 'Method Not Allowed', { allow: ALLOW });
    }
  }

  private async invite(rq: SipMessage, remote: Remote): Promise<void> {
    const target = sip.parseUri(typeof rq.uri === 'string' ? rq.uri : '');
    const code = target?.user ?? '';
    const hearingId = /^\d{4,16}$/.test(code) ? this.o.store.hearingBySipCode(code) : undefined;
    if (!hearingId) return this.reply(rq, 404, 'Not Found (no hearing has this number)');
    const hearing = this.o.hearings.get(hearingId);
    if (hearing.state === 'closed') return this.reply(rq, 404, 'Not Found (the hearing is closed)');
    try {
      this.o.authLimiter.check(remote.address);
    } catch {
      return this.reply(rq, 403, 'Forbidden (too many failed authentications: try again in a minute)');
    }
    // Digest: the first INVITE is challenged; the answer must be to a nonce of ours, still fresh.
    const credentials = (rq.headers.authorization ?? []).find((a) => unq(a.realm) === SIP_REALM);
    const nonce = unq(credentials?.nonce);
    const issued = nonce ? this.nonces.get(nonce) : undefined;
    if (!credentials || !nonce || issued === undefined || Date.now() - issued > NONCE_MS) return this.challenge(rq, !!credentials);
    this.nonces.delete(nonce);
    const account = this.o.store.sipAccountByUser(unq(credentials.username) ?? '');
    const ok =
      account !== undefined &&
      account.hearingId === hearingId &&
      digest.authenticateRequest({ realm: SIP_REALM, nonce, qop: 'auth' }, rq, { user: account.user, hash: account.ha1 });
    if (!ok) {
      this.o.authLimiter.failed(remote.address);
      return this.reply(rq, 403, 'Forbidden (wrong user or PIN for this hearing)');
    }
    const participantId = account.participantId;
    // One way in at a time: the participant is in the hearing from a page (its media would be taken away).
    if (this.o.signaling.hasPage(participantId)) {
      this.o.hearings.log(hearingId, participantId, 'participant.refused', { reason: 'in the hearing from a page', endpoint: 'sip' });
      return this.reply(rq, 486, 'Busy Here', { warning: '399 hearing "already in the hearing from a browser"' });
    }
    let offer: ParsedOffer;
    try {
      if (!/^application\/sdp/i.test(String(rq.headers['content-type'] ?? '')) || !rq.content) throw new Error('no SDP offer');
      offer = parseOffer(rq.content);
    } catch (error) {
      return this.reply(rq, 400, `Bad Request (${(error as Error).message})`);
    }
    if (!offer.taken.some((t) => t.kind === 'audio'))
      return this.reply(rq, 488, 'Not Acceptable Here', {
        warning: '304 hearing "no common audio codec: Opus, G.722, PCMA or PCMU is needed"',
      });
    if (this.calls.size >= MAX_CALLS) return this.reply(rq, 503, 'Service Unavailable (too many calls)');
    // A terminal dialling again (it lost the old call): the old call ends first.
    for (const old of this.calls.values()) if (old.participantId === participantId) this.end(old, 'called again', true);

    const call: Call = {
      callId: rq.headers['call-id'],
      hearingId,
      participantId,
      localTag: randomBytes(8).toString('hex'),
      remoteFrom: rq.headers.from,
      remoteTarget: rq.headers.contact?.[0]?.uri ?? rq.headers.from.uri,
      remote,
      routeSet: rq.headers['record-route'],
      localUri: rq.headers.to.uri,
      cseq: 1,
      answer: '',
      acked: false,
      transports: [],
      relays: [],
      transcoders: [],
      producers: [],
      media: new Map(),
      waiting: this.o.signaling.waitsToBeCalled(participantId, this.o.store.participant(participantId)!.role),
      ended: false,
    };
    this.calls.set(call.callId, call);
    try {
      const room = await this.o.plane.room(hearingId);
      const ports = new Map<number, { rtp: number; rtcp?: number }>();
      const feedTo: Partial<RtpOutput> = {};
      /** Producers made as soon as the terminal is in the hearing (transcoded sound: its SSRC is ours). */
      const atJoin: (() => Promise<void>)[] = [];
      const ssrcBelow2p31 = (): number => randomBytes(4).readUInt32BE(0) >>> 1; // ffmpeg takes it as a signed 32-bit option
      for (const t of offer.taken) {
        const transcoded = t.kind === 'audio' && t.mimeType !== 'audio/opus';
        // The transport takes packets only from the relay's own socket (connected to it below): with comedia it
        // took the first sender to reach its port for good, and a stranger's (or a stale encoder's, on a port
        // just freed) left the terminal unheard. mediasoup learns where the transcoder sends from (comedia):
        // ffmpeg sends RTCP from a socket of its own, even to the same port: RTCP apart, or comedia would latch
        // onto the RTCP socket and drop the RTP ("from unknown IP:port"). The relay learns the terminal's SSRC.
        // (A relay on every address, 0.0.0.0, sends from whichever the route picks: comedia then.)
        const relayBound = !transcoded && this.o.listenIp !== '0.0.0.0' && this.o.listenIp !== '::';
        const transport = await room.createPlainTransport(participantId, 'send', {
          comedia: !relayBound,
          rtcpMux: !transcoded && t.rtcpMux,
        });
        call.transports.push(transport);
        let sfu = {
          address: transport.tuple.localIp,
          rtp: transport.tuple.localPort,
          rtcp: transport.rtcpTuple?.localPort ?? transport.tuple.localPort,
        };
        let onSsrc = (ssrc: number): void => {
          chain = chain
            .then(() => this.produce(call, t, transport, ssrc))
            .catch((error: unknown) => {
              console.warn(`[sip] ${call.participantId}: cannot take its ${t.kind} (SSRC ${ssrc}): ${(error as Error).message}`);
            });
        };
        let chain = Promise.resolve();
        if (transcoded) {
          // G.722 or G.711: the relay hands it to a transcoder, which sends Opus with an SSRC of ours.
          const ssrc = ssrcBelow2p31();
          const transcoder = new SoundTranscoder({
            codec: t.mimeType as Exclude<SoundCodec, 'audio/opus'>,
            payloadType: t.payloadType,
            inPort: this.feedPorts.take(),
            to: { ip: transport.tuple.localIp, port: transport.tuple.localPort, rtcpPort: transport.rtcpTuple!.localPort },
            ssrc,
            workDir: path.join(feedDir(this.o.dataDir, participantId), 'sound'),
            onExit: (what) => this.o.hearings.log(hearingId, 'system', 'sip.feed_trouble', { participantId, what }),
          });
          call.transcoders.push(transcoder);
          await transcoder.start();
          sfu = { address: '127.0.0.1', rtp: transcoder.inPort, rtcp: transcoder.inPort + 1 };
          onSsrc = () => undefined;
          atJoin.push(() => this.produce(call, { ...t, ...TRANSCODED, parameters: {} }, transport, ssrc));
        }
        const relay = await MediaRelay.open(
          this.o.listenIp,
          { address: t.address, rtp: t.port, rtcp: t.rtcpMux ? t.port : t.rtcpPort, signalledFrom: remote.address },
          sfu,
          t.rtcpMux,
          (ssrc) => onSsrc(ssrc),
        );
        call.relays.push(relay);
        if (relayBound) {
          await transport.connect({
            ip: this.o.listenIp,
            port: relay.rtpPort,
            ...(relay.rtcpPort === undefined ? {} : { rtcpPort: relay.rtcpPort }),
          });
        }
        ports.set(t.index, { rtp: relay.rtpPort, rtcp: relay.rtcpPort });
        // The hearing's sound or picture for the terminal comes in here, and goes out from the port above.
        const feedPort = await relay.openFeed(() => this.feedPorts.take());
        const out = { port: feedPort, payloadType: t.payloadType, ssrc: ssrcBelow2p31() };
        if (t.kind === 'audio') feedTo.audio = { ...out, codec: t.mimeType as SoundCodec };
        else feedTo.video = { ...out, ...(t.singleNal ? { singleNal: true } : {}) };
      }
      // Ended while its media were being set up (the terminal called again meanwhile).
      if (call.ended) return this.reply(rq, 487, 'Request Terminated');
      call.answer = answerFor(offer, { address: this.o.announcedIp ?? this.o.listenIp, ports, sessionId: String(Date.now()), version: 1 });
      this.o.signaling.terminalJoined(hearingId, participantId, {
        endpoint: 'sip',
        address: remote.address,
        protocol: remote.protocol,
        media: offer.taken.map((t) => t.mimeType),
      });
      this.sendOk(rq, call);
      this.watch(call);
      for (const make of atJoin)
        void make().catch((error: Error) => console.warn(`[sip] ${participantId}: cannot take its transcoded sound: ${error.message}`));
      if (feedTo.audio) call.feed = this.feed(call, room, { audio: feedTo.audio, video: feedTo.video });
    } catch (error) {
      this.calls.delete(call.callId);
      for (const t of call.transports) t.close();
      for (const r of call.relays) r.close();
      for (const x of call.transcoders) x.stop();
      throw error;
    }
  }

  /** The hearing as the terminal receives it: everyone else's cameras composed, their microphones mixed. */
  private feed(call: Call, room: MediaRoom, rtp: RtpOutput): TerminalFeed {
    return new TerminalFeed({
      room,
      participantId: call.participantId,
      rtp,
      ports: this.feedPorts,
      workDir: feedDir(this.o.dataDir, call.participantId),
      words: programWords(this.t),
      label: (participantId) => {
        const p = this.o.store.participant(participantId);
        return p ? this.t(`role.${p.role}`) : null;
      },
      onTrouble: (what) => this.o.hearings.log(call.hearingId, 'system', 'sip.feed_trouble', { participantId: call.participantId, what }),
      waiting: { now: () => call.waiting, card: this.t('program.witnessWaiting') },
    });
  }

  /**
   * The terminal's microphone or camera for `ssrc` (again when the terminal changes it: the old producer
   * goes). Announced to the hearing once the call is answered.
   */
  private async produce(call: Call, t: OfferedMedia, transport: types.PlainTransport, ssrc: number): Promise<void> {
    if (call.ended || transport.closed) return;
    call.media.set(t.kind, { t, transport, ssrc });
    if (call.waiting) return; // a witness not called in: nothing of it reaches the courtroom
    const room = await this.o.plane.room(call.hearingId);
    const source = t.kind === 'audio' ? 'mic' : 'camera';
    for (const old of call.producers.filter((p) => p.kind === t.kind)) old.close();
    call.producers = call.producers.filter((p) => p.kind !== t.kind);
    const producer = await room.produce(
      call.participantId,
      transport.id,
      t.kind,
      {
        codecs: [
          {
            mimeType: t.mimeType,
            payloadType: t.payloadType,
            clockRate: t.clockRate,
            ...(t.channels ? { channels: t.channels } : {}),
            // A mode 0 camera's packets are each one NAL unit, which mode 1 (the router's) takes as they are.
            parameters: t.singleNal ? { ...t.parameters, 'packetization-mode': 1 } : t.parameters,
            rtcpFeedback:
              t.kind === 'video' ? [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] : [],
          },
        ],
        encodings: [{ ssrc }],
      },
      source,
    );
    if (call.ended) return producer.close();
    call.producers.push(producer);
    await this.o.signaling.terminalProduced(call.hearingId, {
      producerId: producer.id,
      participantId: call.participantId,
      kind: t.kind,
      source,
    });
  }

  /** A re-INVITE (a session refresh, hold): the same answer again. */
  private reInvite(rq: SipMessage): void {
    const call = this.calls.get(rq.headers['call-id']);
    if (!call || call.ended) return this.reply(rq, 481, 'Call/Transaction Does Not Exist');
    this.sendOk(rq, call);
  }

  private challenge(rq: SipMessage, stale: boolean): void {
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, Date.now());
    for (const [n, at] of this.nonces) {
      if (this.nonces.size <= MAX_NONCES && Date.now() - at <= NONCE_MS) break;
      this.nonces.delete(n);
    }
    const rs = this.response(rq, 401, 'Unauthorized');
    rs.headers['www-authenticate'] = [
      { scheme: 'Digest', realm: q(SIP_REALM), nonce: q(nonce), qop: q('auth'), algorithm: 'MD5', ...(stale ? { stale: 'true' } : {}) },
    ];
    this.stack!.send(rs);
  }

  /** The 200 OK with the answer, sent again until the ACK (UDP) or for 32 s; no ACK by then ends the call. */
  private sendOk(rq: SipMessage, call: Call): void {
    const ok = this.response(rq, 200, 'OK', {
      contact: [{ uri: `sip:${sip.parseUri(call.localUri)?.user ?? 'hearing'}@${this.host}:${this.port}`, params: {} }],
      'content-type': 'application/sdp',
      allow: ALLOW,
      ...timerHeaders(rq),
    });
    ok.headers.to.params.tag = call.localTag;
    ok.content = call.answer;
    call.ok = ok;
    call.acked = false;
    clearTimeout(call.retransmit);
    this.stack!.send(ok);
    if (call.remote.protocol !== 'UDP') return;
    const started = Date.now();
    const again = (delay: number): void => {
      call.retransmit = setTimeout(() => {
        if (call.acked || call.ended) return;
        if (Date.now() - started >= 64 * T1_MS) return this.end(call, 'no ACK', true);
        this.stack!.send(ok);
        again(Math.min(delay * 2, T2_MS));
      }, delay);
      call.retransmit.unref();
    };
    again(T1_MS);
  }

  /** Ends the call on the terminal's side too (`bye`) unless it hung up; it leaves the hearing. */
  private end(call: Call, reason: string, bye: boolean, detail: Record<string, unknown> = {}): void {
    if (call.ended) return;
    call.ended = true;
    clearTimeout(call.retransmit);
    clearInterval(call.watchdog);
    this.calls.delete(call.callId);
    call.feed?.close();
    for (const x of call.transcoders) x.stop();
    for (const r of call.relays) r.close();
    for (const t of call.transports) t.close();
    if (call.ok) this.o.signaling.terminalLeft(call.hearingId, call.participantId, { reason, endpoint: 'sip', ...detail });
    if (bye && call.ok) this.sendBye(call);
  }

  private sendBye(call: Call): void {
    this.stack!.send(
      {
        method: 'BYE',
        uri: call.remoteTarget,
        headers: {
          via: [],
          to: call.remoteFrom,
          from: { uri: call.localUri, params: { tag: call.localTag } },
          'call-id': call.callId,
          cseq: { method: 'BYE', seq: ++call.cseq },
          'max-forwards': 70,
          // Back the way the call came (the flow its INVITE arrived on: a terminal behind NAT is reached
          // there), then through the proxies that asked to stay on the path (Record-Route).
          route: [{ uri: this.stack!.encodeFlowUri(call.remote), params: {} }, ...routeList(call.routeSet)],
        },
        content: '',
      },
      () => undefined,
    );
  }

  /** A terminal whose media stop for `rtpTimeoutMs` has vanished (no BYE): its call ends. */
  private watch(call: Call): void {
    let packets = -1;
    let since = Date.now();
    call.watchdog = setInterval(() => {
      const now = call.relays.reduce((n, r) => n + r.packets, 0);
      if (now !== packets) {
        packets = now;
        since = Date.now();
      } else if (Date.now() - since >= this.o.rtpTimeoutMs) this.end(call, 'no media', true);
    }, RTP_CHECK_MS);
    call.watchdog.unref();
  }

  private response(rq: SipMessage, status: number, reason: string, headers: Record<string, unknown> = {}): SipMessage {
    const rs = sip.makeResponse(rq, status, reason, {
      headers: { ...(rq.headers['record-route'] ? { 'record-route': rq.headers['record-route'] } : {}), ...headers },
    });
    // npm sip leaves the To tag out: a final answer other than 100 carries ours (RFC 3261 8.2.6.2).
    const call = this.calls.get(rq.headers['call-id']);
    rs.headers.to = {
      ...rs.headers.to,
      params: { ...rs.headers.to.params, tag: rs.headers.to.params.tag ?? call?.localTag ?? randomBytes(8).toString('hex') },
    };
    return rs;
  }

  private reply(rq: SipMessage, status: number, reason: string, headers: Record<string, unknown> = {}): void {
    this.stack!.send(this.response(rq, status, reason, headers));
  }
}

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE';

/**
 * A Record-Route header as the stack parsed it (each URI parsed into an object), as a route list. Taking
 * only string URIs here dropped every proxy's route: the gateway's BYE then went past the proxy, which
 * refused it (found with Kamailio in front, test/sip-kamailio.test.ts).
 */
const routeList = (rr: unknown): { uri: string; params: Record<string, unknown> }[] =>
  Array.isArray(rr)
    ? rr.flatMap((r: { uri?: unknown; params?: Record<string, unknown> } | null) => {
        const uri =
          typeof r?.uri === 'string' ? r.uri : r?.uri && typeof r.uri === 'object' ? sip.stringifyUri(r.uri as SipUri) : undefined;
        return uri ? [{ uri, params: r?.params ?? {} }] : [];
      })
    : [];

/** Session timers (RFC 4028): the terminal's interval is taken, and it refreshes. */
function timerHeaders(rq: SipMessage): Record<string, unknown> {
  const expires = rq.headers['session-expires'];
  return expires ? { 'session-expires': `${String(expires).split(';')[0]};refresher=uac`, require: 'timer' } : {};
}

const unq = (s: string | undefined): string | undefined => (s && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s);
const q = (s: string): string => `"${s}"`;

/** A port free on both UDP and TCP. */
async function freePort(ip: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind(0, ip, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (
      await assertFree(ip, port).then(
        () => true,
        () => false,
      )
    )
      return port;
  }
  throw new Error('no free port for the SIP gateway');
}

/** Throws unless `port` can be bound on UDP and TCP. */
async function assertFree(ip: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
    s.once('error', (e) => reject(new Error(`HEARING_SIP_PORT ${port}: UDP: ${e.message}`)));
    s.bind(port, ip, () => s.close(() => resolve()));
  });
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (e) => reject(new Error(`HEARING_SIP_PORT ${port}: TCP: ${e.message}`)));
    s.listen(port, ip, () => s.close(() => resolve()));
  });
}
