// One recorded track's segments, muxed in this process (mediabunny): frames from a depacketizer go into
// WebM (Opus, VP8) or Matroska (H.264) files of about `segmentSeconds`, each video segment starting on
// a key frame. A segment is muxed in memory (a 2 s segment is tens to a few hundred KiB) and written
// once, under a `.part` name renamed when complete, so a listed file is always a closed one; a crash
// leaves at most one `.part` file per track, which the record's recovery lists as unlisted. (mediabunny's
// file target flushes through a chunked stream writer: 2-3 times the CPU at hundreds of tracks.)
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  BufferTarget,
  MkvOutputFormat,
  Output,
  WebMOutputFormat,
} from 'mediabunny';
import { depacketizerFor, type Depacketizer, type Frame, type VideoShape } from './depacketize.ts';
import type { SegmentClosed, StartTrack } from './messages.ts';

/** A key frame this close before the boundary starts the next segment (ffmpeg's segment_time_delta). */
const BOUNDARY_SLACK_S = 0.25;
/** A segment is closed at this length even without a key frame (a sender ignoring key frame requests). */
const MAX_SEGMENT_S = 30;
/**
 * Frames waiting for the muxer, at most (about 30 s of video, 20 s of sound): a recorder that falls this
 * far behind drops what comes next, closes its segment and starts again at a key frame, and says so.
 */
const MAX_BACKLOG = 1000;
/** The last frame of a run has no successor to give its length: this, or the last length seen. */
const DEFAULT_FRAME_S = { audio: 0.02, video: 1 / 30 };

/** Opus identification header (RFC 7845 5.1): 2 channels, 48 kHz, no pre-skip, family 0. */
function opusHead(channels: number): Uint8Array {
  const h = Buffer.alloc(19);
  h.write('OpusHead', 0, 'ascii');
  h[8] = 1;
  h[9] = channels;
  h.writeUInt16LE(0, 10);
  h.writeUInt32LE(48000, 12);
  h.writeInt16LE(0, 16);
  h[18] = 0;
  return h;
}

interface Run {
  /** Arrival (ms) of the run's first frame, and its unwrapped RTP time: stream time to wall time. */
  wall0: number;
  u0: number;
}

interface Timed extends Frame {
  /** Unwrapped RTP time of the frame, in clock ticks. */
  u: number;
  run: Run;
  /** Video key frames: the picture as the key frame announced it (read when it came, not when written). */
  shape: VideoShape | undefined;
  /** Its length in seconds (the time to the next frame). */
  duration: number;
}

interface OpenSegment {
  number: number;
  file: string;
  part: string;
  output: Output<MkvOutputFormat, BufferTarget>;
  source: EncodedAudioPacketSource | EncodedVideoPacketSource;
  firstU: number;
  lastEndU: number;
  rtpFirst: number;
  rtpLast: number;
  started: boolean;
  run: Run;
}

export interface SegmentMuxerEvents {
  segment: (s: Omit<SegmentClosed, 'type' | 'trackId'>) => void;
  /** A run (stream time 0) starts at this frame; video wants its key frames timed from here. */
  runStarted: () => void;
  /** Video needs a key frame to start a segment (after a loss or a new run without one). */
  keyFrameNeeded: () => void;
  error: (message: string) => void;
}

export class SegmentMuxer {
  private readonly depacketizer: Depacketizer;
  private readonly clock: number;
  /** Muxer work in order: frames to write, and segment closes (with who waits for them). */
  private readonly backlog: ({ frame: Timed } | { close: () => void })[] = [];
  private draining = false;
  private segment: OpenSegment | null = null;
  private pending: Timed | null = null;
  private lastFrameS: number;
  private run: Run | null = null;
  private lastRaw: number | null = null;
  private unwrapped = 0;
  private keyAskedAt: number | null = null;
  private dirMade = false;
  nextNumber: number;
  /** Frames written into segments, and frames given up (incomplete, or waiting for a key frame). */
  framesWritten = 0;
  framesWaitingForKey = 0;

  constructor(
    private readonly t: StartTrack,
    private readonly on: SegmentMuxerEvents,
  ) {
    const d = depacketizerFor(t.codec.mimeType);
    if (!d) throw new Error(`cannot record ${t.codec.mimeType} without ffmpeg`);
    this.depacketizer = d;
    this.clock = t.codec.clockRate;
    this.nextNumber = t.startNumber;
    this.lastFrameS = DEFAULT_FRAME_S[t.kind];
  }

  /** Frames the depacketizer could not complete (lost packets, or frames after a loss before a key frame). */
  get framesDropped(): number {
    return this.depacketizer.dropped + this.framesWaitingForKey + this.framesDroppedBehind;
  }

  /** A packet in sequence order, with its arrival time. */
  push(packet: Uint8Array, now: number): void {
    const dropped = this.depacketizer.dropped;
    for (const frame of this.depacketizer.push(packet)) this.frame(frame, now);
    // Frames are being left out until a key frame: asked for at once, and again every 15 frames left out.
    const d = this.depacketizer;
    if (!d.awaitingKey) this.keyAskedAt = null;
    else if (d.dropped > dropped && (this.keyAskedAt === null || d.dropped - this.keyAskedAt >= 15)) {
      this.keyAskedAt = d.dropped;
      this.on.keyFrameNeeded();
    }
  }

  /** Ends the run: the held frame is written and the open segment closed (resolves once it is listed). */
  endRun(): Promise<void> {
    const last = this.pending;
    this.pending = null;
    this.run = null;
    this.lastRaw = null;
    if (last) {
      last.duration = this.lastFrameS;
      this.backlog.push({ frame: last });
    }
    const closed = new Promise<void>((resolve) => this.backlog.push({ close: resolve }));
    void this.drain();
    return closed;
  }

  private frame(f: Frame, now: number): void {
    if (this.lastRaw === null) this.unwrapped = f.rtpTs;
    else this.unwrapped += ((f.rtpTs - this.lastRaw) << 0) | 0; // signed 32-bit step: wraps are crossed
    this.lastRaw = f.rtpTs;
    const u = this.unwrapped;
    if (!this.run) {
      this.run = { wall0: now, u0: u };
      this.on.runStarted();
    }
    const prev = this.pending;
    const shape = f.key ? this.depacketizer.shape() : undefined;
    this.pending = { data: f.data, key: f.key, rtpTs: f.rtpTs, u, run: this.run, shape, duration: 0 };
    if (!prev) return;
    const step = (u - prev.u) / this.clock;
    // A step back or a long jump (a sender's clock reset) is not a frame length: the last one is used.
    if (step > 0 && step < 1) this.lastFrameS = step;
    prev.duration = step > 0 && step < 1 ? step : this.lastFrameS;
    if (this.backlog.length >= MAX_BACKLOG) {
      // Behind: the frame is dropped; once caught up, the segment is closed (the next starts at a key frame).
      if (this.behind++ === 0) this.backlog.push({ close: () => this.caughtUp() });
      return;
    }
    this.backlog.push({ frame: prev });
    if (!this.draining) void this.drain();
  }

  /**
   * Muxer work runs one step at a time, in order. A step that fails gives up the open segment; the next
   * segment starts at the next key frame: a gap in the track, reported once, never the rest of the track.
   */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    for (let op = this.backlog.shift(); op; op = this.backlog.shift()) {
      try {
        if ('frame' in op) await this.write(op.frame);
        else await this.close();
      } catch (error) {
        await this.giveUp(error as Error);
      }
      if ('close' in op) op.close();
    }
    this.draining = false;
  }

  private async giveUp(error: Error): Promise<void> {
    const s = this.segment;
    this.segment = null;
    if (s) {
      await s.output.cancel().catch(() => undefined);
      await fs.promises.rm(s.part, { force: true }).catch(() => undefined);
    }
    this.segmentsGivenUp++;
    this.on.error(`muxer: ${error.message}${s ? ` (segment ${s.file} given up)` : ''}`);
  }

  /** Segments given up because the muxer failed on them. */
  segmentsGivenUp = 0;
  /** Frames dropped because the muxer was MAX_BACKLOG frames behind (this episode). */
  private behind = 0;
  framesDroppedBehind = 0;

  private caughtUp(): void {
    this.framesDroppedBehind += this.behind;
    this.on.error(`muxer: ${this.behind} frames dropped while ${MAX_BACKLOG} waited to be written (the recorder fell behind)`);
    this.behind = 0;
    if (this.t.kind === 'video') this.on.keyFrameNeeded();
  }

  private async write(f: Timed): Promise<void> {
    const seg = this.segment;
    const video = this.t.kind === 'video';
    const length = seg ? (f.u - seg.firstU) / this.clock : 0;
    if (seg && (((!video || f.key) && length >= this.t.segmentSeconds - BOUNDARY_SLACK_S) || length >= MAX_SEGMENT_S)) await this.close();
    if (!this.segment) {
      if (video && !f.key) {
        this.framesWaitingForKey++;
        if (this.framesWaitingForKey % 15 === 1) this.on.keyFrameNeeded();
        return;
      }
      this.segment = await this.open(f);
    }
    const s = this.segment!;
    const packet = new EncodedPacket(f.data, f.key ? 'key' : 'delta', (f.u - s.firstU) / this.clock, f.duration);
    if (!s.started) {
      s.started = true;
      await s.source.add(packet, this.decoderConfig(f) as never);
    } else await s.source.add(packet);
    s.lastEndU = f.u + f.duration * this.clock;
    s.rtpLast = f.rtpTs;
    this.framesWritten++;
  }

  private decoderConfig(f: Timed): { decoderConfig: Record<string, unknown> } {
    if (this.t.kind === 'audio') {
      const channels = this.t.codec.channels ?? 2;
      return { decoderConfig: { codec: 'opus', numberOfChannels: channels, sampleRate: 48000, description: opusHead(channels) } };
    }
    const shape = f.shape;
    if (!shape) throw new Error('a key frame without its picture size');
    return {
      decoderConfig: {
        codec: shape.codec,
        codedWidth: shape.width,
        codedHeight: shape.height,
        ...(shape.description ? { description: shape.description } : {}),
      },
    };
  }

  private async open(f: Timed): Promise<OpenSegment> {
    const number = this.nextNumber++;
    const file = `${String(number).padStart(6, '0')}.${this.t.ext}`;
    const part = path.join(this.t.dir, `${file}.part`);
    const output = new Output({
      format: this.t.ext === 'webm' ? new WebMOutputFormat() : new MkvOutputFormat(),
      target: new BufferTarget(),
    });
    const mime = this.t.codec.mimeType.toLowerCase();
    const source =
      this.t.kind === 'audio' ? new EncodedAudioPacketSource('opus') : new EncodedVideoPacketSource(mime === 'video/h264' ? 'avc' : 'vp8');
    if (source instanceof EncodedAudioPacketSource) output.addAudioTrack(source);
    else output.addVideoTrack(source);
    await output.start();
    return {
      number,
      file,
      part,
      output,
      source,
      firstU: f.u,
      lastEndU: f.u,
      rtpFirst: f.rtpTs,
      rtpLast: f.rtpTs,
      started: false,
      run: f.run,
    };
  }

  private async close(): Promise<void> {
    const s = this.segment;
    if (!s) return;
    this.segment = null;
    if (!s.started) return void (await s.output.cancel());
    await s.output.finalize();
    const data = new Uint8Array(s.output.target.buffer!);
    if (!this.dirMade) {
      await fs.promises.mkdir(this.t.dir, { recursive: true });
      this.dirMade = true;
    }
    await fs.promises.writeFile(s.part, data);
    await fs.promises.rename(s.part, path.join(this.t.dir, s.file));
    const wallStart = s.run.wall0 + ((s.firstU - s.run.u0) / this.clock) * 1000;
    const duration = (s.lastEndU - s.firstU) / this.clock;
    this.on.segment({
      file: s.file,
      number: s.number,
      bytes: data.byteLength,
      sha256: createHash('sha256').update(data).digest('hex'),
      wallStart: new Date(wallStart).toISOString(),
      wallEnd: new Date(wallStart + duration * 1000).toISOString(),
      durationSeconds: Number(duration.toFixed(3)),
      rtpFirst: s.rtpFirst,
      rtpLast: s.rtpLast,
    });
  }
}
