// A SIP user agent for the tests and the SIP benchmark (npm `sip`, the gateway's own stack, on a port of its own): it dials,
// answers a challenge, acknowledges, hangs up, and answers the gateway's BYE.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import sip, { type SipMessage, type Stack } from 'sip';
import digest from 'sip/digest.js';

const tag = (): string => randomBytes(6).toString('hex');

export interface Dialled {
  /** The final answer (after the challenge, when credentials were given). */
  final: SipMessage;
  /** Whether the first answer was a 401 challenge. */
  challenged: boolean;
  /** The first answer. */
  first: SipMessage;
}

export class SipPhone {
  private constructor(
    private readonly stack: Stack,
    readonly port: number,
    /** BYEs the gateway sent this phone. */
    readonly byes: SipMessage[],
    readonly address: string,
  ) {}

  static async start(protocol: 'UDP' | 'TCP' = 'UDP', address = '127.0.0.1'): Promise<SipPhone> {
    const port = await freeUdpPort(address);
    const byes: SipMessage[] = [];
    // Another name than the gateway's: npm sip takes a request to its own host for one of its own flows.
    const stack = sip.create({ port, address, publicAddress: 'localhost', udp: protocol === 'UDP', tcp: protocol === 'TCP' }, (rq) => {
      if (rq.method === 'BYE') {
        byes.push(rq);
        stack.send(sip.makeResponse(rq, 200, 'OK'));
      } else if (rq.method !== 'ACK') stack.send(sip.makeResponse(rq, 405, 'Method Not Allowed'));
    });
    return new SipPhone(stack, port, byes, address);
  }

  /** INVITE `uri` with `sdp`; a 401 is answered with `user`/`pin` when given. */
  invite(
    uri: string,
    o: { user?: string; pin?: string; sdp: string; transport?: 'tcp'; headers?: Record<string, unknown> },
  ): Promise<Dialled> {
    const callId = tag();
    const fromTag = tag();
    const target = o.transport ? `${uri};transport=${o.transport}` : uri;
    const request = (seq: number): SipMessage => ({
      method: 'INVITE',
      uri: target,
      headers: {
        via: [],
        to: { uri, params: {} },
        from: { uri: `sip:terminal@${this.address}:${this.port}`, params: { tag: fromTag } },
        'call-id': callId,
        cseq: { method: 'INVITE', seq },
        contact: [{ uri: `sip:terminal@${this.address}:${this.port}`, params: {} }],
        'content-type': 'application/sdp',
        'max-forwards': 70,
        ...o.headers,
      },
      content: o.sdp,
    });
    return new Promise((resolve) => {
      let first: SipMessage | undefined;
      const rq = request(1);
      this.stack.send(rq, (rs) => {
        if (rs.status! < 200) return;
        first = rs;
        if (rs.status === 401 && o.user !== undefined && o.pin !== undefined) {
          const again = request(2);
          digest.signRequest({}, again, rs, { user: o.user, password: o.pin });
          this.stack.send(again, (rs2) => {
            if (rs2.status! >= 200) resolve({ final: rs2, challenged: true, first: first! });
          });
        } else resolve({ final: rs, challenged: rs.status === 401, first: rs });
      });
    });
  }

  /** Dials a terminal account's hearing with its user and PIN. */
  dial(account: { uri: string; user: string; pin: string }, sdp: string): Promise<Dialled> {
    return this.invite(account.uri, { user: account.user, pin: account.pin, sdp });
  }

  /** Acknowledges a 200 OK. */
  ack(ok: SipMessage): void {
    this.stack.send(inDialog(ok, 'ACK', ok.headers.cseq.seq));
  }

  /** An in-dialog request after a 200 OK (BYE, a re-INVITE…), resolving with the final answer. */
  request(ok: SipMessage, method: string, seq: number, content = ''): Promise<SipMessage> {
    return new Promise((resolve) => {
      this.stack.send(inDialog(ok, method, seq, content), (rs) => {
        if (rs.status! >= 200) resolve(rs);
      });
    });
  }

  /** An out-of-dialog request (OPTIONS…). */
  send(uri: string, method: string): Promise<SipMessage> {
    return new Promise((resolve) => {
      this.stack.send(
        {
          method,
          uri,
          headers: {
            via: [],
            to: { uri, params: {} },
            from: { uri: `sip:terminal@${this.address}:${this.port}`, params: { tag: tag() } },
            'call-id': tag(),
            cseq: { method, seq: 1 },
            'max-forwards': 70,
          },
          content: '',
        },
        (rs) => {
          if (rs.status! >= 200) resolve(rs);
        },
      );
    });
  }

  close(): void {
    this.stack.destroy();
  }
}

/** A request in the dialog a 200 OK made (through the proxies that recorded their route, RFC 3261 12.1.2). */
function inDialog(ok: SipMessage, method: string, seq: number, content = ''): SipMessage {
  const recorded = ok.headers['record-route'] as unknown[] | undefined;
  return {
    method,
    uri: ok.headers.contact?.[0]?.uri ?? ok.headers.to.uri,
    headers: {
      via: [],
      ...(recorded?.length ? { route: [...recorded].reverse() } : {}),
      to: ok.headers.to,
      from: ok.headers.from,
      'call-id': ok.headers['call-id'],
      cseq: { method, seq },
      ...(content ? { 'content-type': 'application/sdp' } : {}),
    },
    content,
  };
}

/** An SDP offer (from 127.0.0.1 unless `address`): sound on `audioPort` with `audio` codecs, optionally H.264 video. */
export function offer(o: {
  audioPort: number;
  audio: ('opus' | 'pcmu' | 'pcma' | 'g722' | 'gsm')[];
  rtcpMux?: boolean;
  videoPort?: number;
  /** H.264's packetization modes offered (payload type 96 for mode 0, 97 for mode 1): both unless said. */
  videoModes?: (0 | 1)[];
  /** The address the offer names (a terminal behind NAT names its private one). */
  address?: string;
}): string {
  const modes = o.videoModes ?? [0, 1];
  const address = o.address ?? '127.0.0.1';
  const pts = { opus: 111, pcmu: 0, pcma: 8, g722: 9, gsm: 3 } as const;
  const maps = { opus: 'opus/48000/2', pcmu: 'PCMU/8000', pcma: 'PCMA/8000', g722: 'G722/8000', gsm: 'GSM/8000' } as const;
  const lines = [
    'v=0',
    `o=terminal ${Date.now()} 1 IN IP4 ${address}`,
    's=terminal',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${o.audioPort} RTP/AVP ${o.audio.map((c) => pts[c]).join(' ')}`,
    ...o.audio.map((c) => `a=rtpmap:${pts[c]} ${maps[c]}`),
    ...(o.rtcpMux ? ['a=rtcp-mux'] : []),
    'a=sendrecv',
    ...(o.videoPort
      ? [
          `m=video ${o.videoPort} RTP/AVP ${modes.map((mode) => 96 + mode).join(' ')}`,
          ...modes.flatMap((mode) => [
            `a=rtpmap:${96 + mode} H264/90000`,
            `a=fmtp:${96 + mode} packetization-mode=${mode};profile-level-id=42e01f`,
          ]),
          'a=sendrecv',
        ]
      : []),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/** A free UDP port (let go before it is used). */
export function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, address, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * The terminal's RTP socket. Its sound (a tone, encoded by ffmpeg as `encoder` says) goes out from it
 * (symmetric RTP, as terminals do), and what the gateway sends back to it is counted.
 */
export class TerminalSound {
  readonly back = {
    payloadTypes: [] as number[],
    payloadBytes: 0,
    times: [] as number[],
    /** Each packet's SSRC, RTP timestamp and payload size. */
    packets: [] as Array<{ ssrc: number; timestamp: number; bytes: number }>,
  };
  private encoder?: ChildProcess;
  private closed = false;

  private constructor(
    private readonly rtp: dgram.Socket,
    private readonly inlet: dgram.Socket,
  ) {
    rtp.on('message', (m) => {
      if (m.length < 12 || (m[1]! >= 192 && m[1]! <= 223)) return; // RTCP (RFC 5761: its packet types 192–223 in the second byte)
      this.back.payloadTypes.push(m[1]! & 0x7f);
      this.back.payloadBytes += m.length - 12;
      this.back.times.push(Date.now());
      this.back.packets.push({ ssrc: m.readUInt32BE(8), timestamp: m.readUInt32BE(4), bytes: m.length - 12 });
    });
  }

  static async open(): Promise<TerminalSound> {
    const bind = (): Promise<dgram.Socket> =>
      new Promise((resolve) => {
        const s = dgram.createSocket('udp4');
        s.bind(0, '127.0.0.1', () => resolve(s));
      });
    return new TerminalSound(await bind(), await bind());
  }

  get port(): number {
    return this.rtp.address().port;
  }

  /**
   * Sends a 440 Hz tone (or `input`, ffmpeg's input options) to the gateway's `port`, in real time: the
   * encoder's RTP comes in at the inlet and goes out from the terminal's socket.
   */
  send(port: number, encoder: string[], input = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']): void {
    this.inlet.on('message', (m) => this.rtp.send(m, port, '127.0.0.1'));
    this.encoder = spawn(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-re', ...input],
        ...encoder,
        ...['-f', 'rtp', `rtp://127.0.0.1:${this.inlet.address().port}`],
      ],
      { stdio: 'ignore' },
    );
  }

  /** Resolves when the encoder has sent all of its input (a file) and exited. */
  finished(): Promise<void> {
    const encoder = this.encoder;
    if (!encoder || encoder.exitCode !== null || encoder.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => encoder.once('exit', () => resolve()));
  }

  /** The encoder's process (a benchmark leaves it out of the server's CPU). */
  get encoderPid(): number | undefined {
    return this.encoder?.pid;
  }

  /** Stops sending (the socket stays: the call is up, the terminal has just gone quiet). */
  quiet(): void {
    this.encoder?.kill('SIGKILL');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.encoder?.kill('SIGKILL');
    this.rtp.close();
    this.inlet.close();
  }
}
