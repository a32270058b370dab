// A terminal's sound in G.722 or G.711 into the hearing as Opus: the hearing's other participants,
// the recorder and the transcriber all take Opus, so this one codec is turned into it once, at the edge.
// One ffmpeg per call: it listens on a loopback port pair for the terminal's RTP (the call's relay sends
// it there) and sends Opus with a fixed SSRC to the call's mediasoup PlainTransport, so its producer is
// made at once (no SSRC to learn).
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { spawnTied } from '../../workers/taps/children.ts';
import { sdpSession } from '../../workers/taps/sdp.ts';
import { waitUntilBound } from '../../workers/taps/udp-ports.ts';
import type { SoundCodec } from './sdp.ts';

/** The Opus the transcoder sends into the hearing. */
export const TRANSCODED = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 } as const;

export class SoundTranscoder {
  private ffmpeg: ChildProcess | null = null;
  private stopped = false;
  private stderr = '';
  private restart?: NodeJS.Timeout;

  constructor(
    private readonly o: {
      codec: Exclude<SoundCodec, 'audio/opus'>;
      payloadType: number;
      /** The loopback port the terminal's RTP arrives on (RTCP on the next). */
      inPort: number;
      /** mediasoup's PlainTransport for this sound (comedia, RTCP on its own port). */
      to: { ip: string; port: number; rtcpPort: number };
      ssrc: number;
      workDir: string;
      /** The encoder ended on its own (logged by the caller; it is started again after 2 s). */
      onExit: (what: string) => void;
    },
  ) {}

  /** The loopback port the terminal's RTP arrives on. */
  get inPort(): number {
    return this.o.inPort;
  }

  /** Starts ffmpeg and resolves once it listens for the terminal's sound. */
  async start(): Promise<void> {
    fs.mkdirSync(this.o.workDir, { recursive: true });
    const sdp = path.join(this.o.workDir, 'sound-in.sdp');
    fs.writeFileSync(
      sdp,
      sdpSession(
        [
          {
            kind: 'audio',
            port: this.o.inPort,
            codec: { mimeType: this.o.codec, payloadType: this.o.payloadType, clockRate: 8000, channels: 1 },
          },
        ],
        'terminal sound',
      ),
    );
    const ffmpeg = spawnTied(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp'],
        ...['-analyzeduration', '200000', '-probesize', '4096', '-f', 'sdp', '-i', sdp],
        // Mono: a terminal's voice is one channel. As stereo (each channel at half the bitrate) the live
        // transcript of a G.722 terminal's speech went from WER 0.50 to 0.82–0.96 (test/sip-gateway.test.ts).
        ...['-c:a', 'libopus', '-b:a', '32k', '-ar', '48000', '-ac', '1', '-application', 'voip'],
        ...['-payload_type', String(TRANSCODED.payloadType), '-ssrc', String(this.o.ssrc)],
        ...['-f', 'rtp', `rtp://${this.o.to.ip}:${this.o.to.port}?rtcpport=${this.o.to.rtcpPort}`],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.ffmpeg = ffmpeg;
    ffmpeg.stderr!.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-1000)));
    ffmpeg.once('exit', (code, signal) => {
      if (this.stopped || this.ffmpeg !== ffmpeg) return;
      this.o.onExit(`the sound transcoder exited (${signal ?? `code ${code}`}): ${this.stderr.trim().slice(-200)}`);
      this.restart = setTimeout(() => void this.start().catch((error: Error) => this.o.onExit(error.message)), 2000);
      this.restart.unref();
    });
    if (!(await waitUntilBound(this.o.inPort, 10_000)))
      throw new Error(`the sound transcoder did not open port ${this.o.inPort}: ${this.stderr}`);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restart);
    this.ffmpeg?.kill('SIGKILL');
  }
}
