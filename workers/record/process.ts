// The recorder process: per recorded track, a UDP socket that receives the track's RTP from a mediasoup
// PlainTransport consumer, notes sequence gaps and stalls, and writes the media into segments without
// transcoding: by default depacketized and muxed here (SegmentMuxer: no process per track), or, with
// RECORDER_WRITER=ffmpeg (the benchmark's baseline), passed to a native ffmpeg per track. Runs apart
// from the server's signaling process.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { PortPairs, waitUntilBound } from '../taps/udp-ports.ts';
import type { FromRecorder, StartTrack, ToRecorder } from './messages.ts';
import { rtcpBye, sdpFor } from '../taps/sdp.ts';
import { queueSpawn } from '../taps/spawn-queue.ts';
import { spawnTied } from '../taps/children.ts';
import { RtpReorder } from './rtp-reorder.ts';
import { SegmentMuxer } from './segment-muxer.ts';
import { depacketizerFor } from './depacketize.ts';

const ports = new PortPairs(Number(process.env.RECORDER_PORT_MIN ?? 20000), Number(process.env.RECORDER_PORT_MAX ?? 26999));
const tracks = new Map<string, Track>();
const send = (m: FromRecorder): void => {
  if (process.connected) process.send?.(m);
};
const MAX_QUEUE = 4000;
/** How tracks are written: 'mux' in this process (default), or 'ffmpeg', one process per track. */
const WRITER = process.env.RECORDER_WRITER === 'ffmpeg' ? 'ffmpeg' : 'mux';

/** Input timeout (s): a stream silent this long ends ffmpeg cleanly; the next packet starts a new one. */
const INPUT_TIMEOUT_S = '5';
/**
 * How long a hole in the sequence stays open for the repaired packet. mediasoup asks the publisher up to
 * 10 times, one round trip apart, so a repair comes within ~10 RTTs or never: 2 s covers RTTs up to 200 ms.
 * The record has no latency to keep.
 */
const REORDER_HOLD_MS = Number(process.env.RECORDER_HOLD_MS ?? 2000);
/** After ffmpeg fails, wait this long before starting another (no restart storm). */
const RESTART_BACKOFF_MS = 1000;

class Track {
  private readonly socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 2 * 1024 * 1024 });
  private ffmpeg?: ChildProcess;
  private ffmpegPort = 0;
  private listening = false;
  private queue: Buffer[] = [];
  private lastPacketAt = 0;
  /** Wall clock of the first packet the current ffmpeg got: its stream time 0. */
  private runStartWall = 0;
  private stalled = false;
  private quiet = false;
  private stopping = false;
  private failedAt = 0;
  private segments: Promise<void> = Promise.resolve();
  private nextNumber: number;
  private rtpFirst: number | null = null;
  private rtpLast: number | null = null;
  private stderrTail = '';
  /** For the record when a run ends without media: what this process saw of the track. */
  private received = 0;
  private forwarded = 0;
  private runs = 0;
  private dropped = 0;
  /** In-process writer (undefined: this track is written by ffmpeg). */
  private readonly muxer?: SegmentMuxer;
  /** The muxer's run is open (packets since the last silence longer than INPUT_TIMEOUT_S). */
  private muxing = false;
  private startedAt = 0;
  private readonly timer: NodeJS.Timeout;
  private keyFrameTimer?: NodeJS.Timeout;
  private readonly tmpDir: string;
  /** Repaired packets (NACK) arrive after the ones that followed them: put back in place, not dropped. */
  private readonly reorder = new RtpReorder<Buffer>(
    {
      deliver: (packet) => this.accept(packet),
      lost: (l) => {
        send({
          type: 'gap',
          trackId: this.t.trackId,
          missing: l.missing,
          afterSeq: l.afterSeq,
          nextSeq: l.nextSeq,
          at: new Date(l.noticedAt).toISOString(),
        });
        // The frames after a lost video packet refer to what is missing: a key frame ends the damage.
        if (this.t.kind === 'video') send({ type: 'keyframe', trackId: this.t.trackId });
      },
    },
    REORDER_HOLD_MS,
  );

  constructor(private readonly t: StartTrack) {
    this.nextNumber = t.startNumber;
    this.timer = setInterval(() => {
      this.reorder.tick();
      this.checkStall();
    }, 100);
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rec-sdp-'));
    if (WRITER === 'mux' && depacketizerFor(t.codec.mimeType)) {
      this.muxer = new SegmentMuxer(t, {
        segment: (s) => {
          this.nextNumber = s.number + 1;
          send({ type: 'segment', trackId: t.trackId, ...s });
        },
        runStarted: () => {
          this.runs++;
          if (t.kind === 'video') this.scheduleKeyFrames();
        },
        keyFrameNeeded: () => send({ type: 'keyframe', trackId: t.trackId }),
        // A segment the muxer failed on is given up; the next starts at a key frame, asked for now: a gap, not the track.
        error: (message) => {
          send({ type: 'error', trackId: t.trackId, source: 'muxer', message });
          if (t.kind === 'video') send({ type: 'keyframe', trackId: t.trackId });
        },
      });
    }
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.t.dir, { recursive: true });
    this.socket.on('message', (packet) => this.onPacket(packet));
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    // A track that never receives media is reported as a stall too (counted from now), never silent.
    this.lastPacketAt = Date.now();
    this.startedAt = this.lastPacketAt;
    // Ready first, so the server creates the consumer and media starts queueing here at once; then
    // ffmpeg starts (spawning is synchronous: a hearing opening with many tracks spawns many).
    send({ type: 'ready', trackId: this.t.trackId, port: (this.socket.address() as { port: number }).port });
    if (!this.muxer) this.startFfmpeg();
    // A video consumer sends nothing before a key frame: ask again until one arrives (a sender under
    // load, or rate-limiting its key frames, may not answer the first request).
    if (this.t.kind === 'video') {
      let asks = 0;
      const ask = setInterval(() => {
        if (this.lastPacketAt > this.startedAt || this.stopping || ++asks > 10) return clearInterval(ask);
        send({ type: 'keyframe', trackId: this.t.trackId });
      }, 300);
    }
  }

  /** Stops at once when media flows; when it does not, ffmpeg's input timeout ends it. */
  stop(): void {
    if (this.stopping) return;
    this.reorder.flush();
    this.stopping = true;
    if (this.muxer) {
      this.muxing = false;
      void this.muxer.endRun().then(() => this.finish(0));
      return;
    }
    if (!this.ffmpeg) {
      // Media that arrived while this track's ffmpeg was still waiting to start is written first.
      if (this.queue.length) return void this.runFfmpeg();
      return void this.finish(null);
    }
    if (this.listening) this.interrupt();
  }

  private interrupt(): void {
    if (!this.ffmpeg) return;
    this.ffmpeg.kill('SIGINT');
    // ffmpeg looks at a first SIGINT only between packets, and nothing after the stop is sent to it: an
    // RTCP BYE ends its input (sent after the last packet on the same socket, so behind it). Measured
    // 0.36 s to a clean exit, against its 5 s input timeout without it.
    this.socket.send(rtcpBye(this.t.ssrc), this.ffmpegPort, '127.0.0.1');
    const ffmpeg = this.ffmpeg;
    setTimeout(() => ffmpeg.exitCode === null && ffmpeg.kill('SIGKILL'), Number(INPUT_TIMEOUT_S) * 1000 + 3000).unref();
  }

  setQuiet(quiet: boolean): void {
    this.quiet = quiet;
  }

  private spawnPending = false;

  /** Queues this track's ffmpeg; packets queue here until it listens. */
  private startFfmpeg(): void {
    if (this.spawnPending || this.ffmpeg) return;
    this.spawnPending = true;
    queueSpawn(() => {
      this.spawnPending = false;
      if (!this.ffmpeg && !this.stopping) this.runFfmpeg();
    });
  }

  private runFfmpeg(): void {
    this.ffmpegPort = ports.take();
    const sdpFile = path.join(this.tmpDir, 'track.sdp');
    fs.writeFileSync(sdpFile, sdpFor(this.t, this.ffmpegPort));
    const args = [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'warning',
      '-protocol_whitelist',
      'file,udp,rtp',
      '-listen_timeout',
      INPUT_TIMEOUT_S,
      '-buffer_size',
      '4194304',
      '-f',
      'sdp',
      '-i',
      sdpFile,
      '-c',
      'copy',
      '-f',
      'segment',
      '-segment_time',
      String(this.t.segmentSeconds),
      '-segment_time_delta',
      '0.25',
      '-segment_format',
      this.t.ext === 'webm' ? 'webm' : 'matroska',
      '-reset_timestamps',
      '1',
      '-segment_start_number',
      String(this.nextNumber),
      '-segment_list',
      'pipe:1',
      '-segment_list_type',
      'csv',
      path.join(this.t.dir, `%06d.${this.t.ext}`),
    ];
    this.runs++;
    // Dies with this process (parent-death signal): a crashed recorder leaves no ffmpeg writing on.
    const ffmpeg = spawnTied('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.ffmpeg = ffmpeg;
    this.listening = false;
    ffmpeg.stderr!.on('data', (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000)));
    readline.createInterface({ input: ffmpeg.stdout! }).on('line', (line) => this.onSegmentLine(line));
    ffmpeg.on('close', (code) => void this.onExit(ffmpeg, code));
    void this.waitListening(ffmpeg);
  }

  private async waitListening(ffmpeg: ChildProcess): Promise<void> {
    const bound = await waitUntilBound(this.ffmpegPort, 10_000);
    if (this.ffmpeg !== ffmpeg || ffmpeg.exitCode !== null) return; // an exit is reported by onExit
    if (!bound) {
      send({ type: 'error', trackId: this.t.trackId, source: 'ffmpeg', message: `ffmpeg did not open its RTP port: ${this.stderrTail}` });
      ffmpeg.kill('SIGKILL');
      return;
    }
    this.listening = true;
    for (const packet of this.queue) this.forward(packet);
    this.queue = [];
    this.reportDropped();
    // Asked to stop while ffmpeg was starting: give it a moment to take in what was queued.
    if (this.stopping) setTimeout(() => this.interrupt(), 500);
  }

  /** Packets that did not fit the start-up queue are a loss, and written down as one. */
  private reportDropped(): void {
    if (!this.dropped) return;
    send({ type: 'dropped', trackId: this.t.trackId, packets: this.dropped, at: new Date().toISOString() });
    this.dropped = 0;
  }

  private onPacket(packet: Buffer): void {
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    if (packet[1]! >= 192 && packet[1]! <= 223) return; // RTCP (rtcp-mux)
    if (packet.readUInt32BE(8) !== this.t.ssrc >>> 0) return; // probation and other streams
    const now = Date.now();
    if (this.stalled) {
      send({ type: 'flowing', trackId: this.t.trackId, afterMs: now - this.lastPacketAt, at: new Date(now).toISOString() });
      this.stalled = false;
    }
    this.lastPacketAt = now;
    this.reorder.push(packet.readUInt16BE(2), packet, now);
  }

  /** A packet in sequence order (holes before it were given up on and reported as gaps). */
  private accept(packet: Buffer): void {
    const now = Date.now();
    const ts = packet.readUInt32BE(4);
    this.received++;
    // Asked to stop: nothing after the request is kept (the BYE that interrupt() sends ends ffmpeg).
    if (this.stopping) return;
    if (this.muxer) {
      this.muxing = true;
      this.forwarded++;
      this.muxer.push(packet, now);
      return;
    }
    if (!this.ffmpeg) {
      if (now - this.failedAt < RESTART_BACKOFF_MS) return; // dropped while ffmpeg is failing: reported as ffmpeg.exit
      this.startFfmpeg();
    }
    if (!this.runStartWall) {
      this.runStartWall = now;
      if (this.t.kind === 'video') this.scheduleKeyFrames();
    }
    this.rtpFirst ??= ts;
    this.rtpLast = ts;
    if (this.listening) this.forward(packet);
    else if (this.queue.length < MAX_QUEUE) this.queue.push(packet);
    else this.dropped++;
  }

  /** Asks for a key frame just before each segment boundary of the current ffmpeg run. */
  private scheduleKeyFrames(): void {
    clearInterval(this.keyFrameTimer);
    const period = this.t.segmentSeconds * 1000;
    setTimeout(() => {
      if (this.stopping || !(this.ffmpeg || this.muxing)) return;
      send({ type: 'keyframe', trackId: this.t.trackId });
      this.keyFrameTimer = setInterval(() => send({ type: 'keyframe', trackId: this.t.trackId }), period);
    }, period - 150).unref();
    send({ type: 'keyframe', trackId: this.t.trackId });
  }

  private forward(packet: Buffer): void {
    this.forwarded++;
    this.socket.send(packet, this.ffmpegPort, '127.0.0.1');
  }

  private checkStall(): void {
    const silent = Date.now() - this.lastPacketAt;
    // Silent as long as ffmpeg's input timeout: the run ends and its segment is closed (listed now, not
    // when media comes back); the next packet starts a new run, its stream time from its own arrival.
    if (this.muxer && this.muxing && !this.stopping && silent > Number(INPUT_TIMEOUT_S) * 1000) {
      this.muxing = false;
      clearInterval(this.keyFrameTimer);
      void this.muxer.endRun();
    }
    if (this.stalled || this.quiet || this.stopping) return;
    if (silent > this.t.stallMs) {
      this.stalled = true;
      send({ type: 'stall', trackId: this.t.trackId, silentMs: silent, at: new Date(this.lastPacketAt).toISOString() });
    }
  }

  /** ffmpeg's segment list: `<file>,<start seconds>,<end seconds>` once a segment is closed. */
  private onSegmentLine(line: string): void {
    const [file, start, end] = line.trim().split(',');
    if (!file || start === undefined || end === undefined) return;
    const startSec = Number(start);
    const endSec = Number(end);
    const number = parseInt(file, 10);
    const base = this.runStartWall;
    const rtpFirst = this.rtpFirst;
    const rtpLast = this.rtpLast;
    this.rtpFirst = null;
    this.nextNumber = number + 1;
    this.segments = this.segments.then(async () => {
      const data = await fs.promises.readFile(path.join(this.t.dir, file));
      send({
        type: 'segment',
        trackId: this.t.trackId,
        file,
        number,
        bytes: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
        wallStart: new Date(base + startSec * 1000).toISOString(),
        wallEnd: new Date(base + endSec * 1000).toISOString(),
        durationSeconds: Number((endSec - startSec).toFixed(3)),
        rtpFirst,
        rtpLast,
      });
    });
  }

  private async onExit(ffmpeg: ChildProcess, code: number | null): Promise<void> {
    clearInterval(this.keyFrameTimer);
    await this.segments;
    if (this.ffmpeg === ffmpeg) this.ffmpeg = undefined;
    this.listening = false;
    this.runStartWall = 0; // the next run's stream time starts at its first packet
    this.queue = [];
    if (this.stopping) return this.finish(code);
    // Not asked to stop: the input timed out (a stall, already reported) or ffmpeg failed.
    if (!/timed out/i.test(this.stderrTail)) {
      this.failedAt = Date.now();
      send({
        type: 'error',
        trackId: this.t.trackId,
        source: 'ffmpeg',
        message: `ffmpeg exited with ${code}: ${this.stderrTail.slice(-500)}`,
      });
    }
    this.stderrTail = '';
  }

  private finish(code: number | null): void {
    this.reportDropped();
    clearInterval(this.timer);
    clearInterval(this.keyFrameTimer);
    this.socket.close();
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    tracks.delete(this.t.trackId);
    send({
      type: 'stopped',
      trackId: this.t.trackId,
      code,
      expected: true,
      nextNumber: this.nextNumber,
      stderrTail: this.stderrTail.slice(-500),
      received: this.received,
      forwarded: this.forwarded,
      writer: this.muxer ? 'mux' : 'ffmpeg',
      runs: this.runs,
      ...(this.muxer ? { framesDropped: this.muxer.framesDropped } : {}),
    });
  }
}

process.on('message', (m: ToRecorder) => {
  if (m.type === 'start') {
    const track = new Track(m);
    tracks.set(m.trackId, track);
    track.start().catch((error: Error) => send({ type: 'error', trackId: m.trackId, source: 'recorder', message: error.message }));
  } else if (m.type === 'stop') tracks.get(m.trackId)?.stop();
  else if (m.type === 'quiet') tracks.get(m.trackId)?.setQuiet(m.quiet);
});

// The server went away (crash or exit): close every segment properly, then leave.
process.on('disconnect', () => {
  for (const track of tracks.values()) track.stop();
  const wait = setInterval(() => {
    if (tracks.size === 0) process.exit(0);
  }, 50);
  setTimeout(() => process.exit(0), 6000).unref();
  void wait;
});
