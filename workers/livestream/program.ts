// The public program of a hearing: one native ffmpeg that takes the main room's cameras and microphones
// (PlainTransport consumers, one SDP), lays them out (active speaker large, everyone small with their
// role, protected people as a placeholder that never touches their video), mixes the audio (protected
// voices pitch-shifted) and encodes H.264 + AAC into 2 s HLS segments in a private work directory. The
// active speaker is switched live through ffmpeg's command input (`streamselect map`), without a restart.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TFunction } from 'i18next';
import type { MediaRoom } from '../media/room.ts';
import { sdpSession } from '../taps/sdp.ts';
import { waitUntilBound, type PortPairs } from '../taps/udp-ports.ts';
import { spawnTied } from '../taps/children.ts';
import { openTap, type Tap } from '../taps/tap.ts';

export const LIVE_PEER = 'livestream';
/**
 * The program encoder runs below the server's other work: when the machine is short of CPU, the record,
 * the transcript and the participants' media come first, and the stream steps down its ladder.
 */
export const PROGRAM_NICENESS = 5;
/** A font with Chinese (and Latin) glyphs, from Debian's fonts-wqy-zenhei: DejaVu draws Chinese as boxes. */
export const FONT = '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc';

/** The words the program shows itself (from the server's message catalogue, in its language). */
export interface ProgramWords {
  waiting: string;
  protected: string;
  soundOnly: (label: string) => string;
}

/** The program's words from a message catalogue (`program.*` keys), in the server's language. */
export function programWords(t: TFunction): ProgramWords {
  return {
    waiting: t('program.waiting'),
    protected: t('program.protected'),
    soundOnly: (label) => t('program.soundOnly', { label }),
  };
}

const ENGLISH: ProgramWords = {
  waiting: 'waiting for participants',
  protected: 'protected participant',
  soundOnly: (label) => `${label} (sound only)`,
};
/** 1 s segments (and a 1 s GOP): the viewer can play about 1.5 s behind the live edge. */
const SEGMENT_SECONDS = 1;

export interface ProgramSource {
  participantId: string;
  /** Shown under the tile (the role, or the name if the court chooses). */
  label: string;
  videoProducerId?: string;
  audioProducerId?: string;
  hidden: boolean;
  disguised: boolean;
}

/** How the program is encoded: a step of the quality ladder (see LADDERS). */
export interface ProgramSize {
  width: number;
  height: number;
  videoKbps: number;
  fps: number;
  /** x264 preset: each step down costs less CPU per frame. */
  preset: 'veryfast' | 'superfast' | 'ultrafast';
  /** No camera is decoded: a still card says the picture is paused, the hearing's sound goes on. */
  audioOnly?: boolean;
}

export const SIZES: Record<'720p' | '480p', ProgramSize> = {
  '720p': { width: 1280, height: 720, videoKbps: 1800, fps: 25, preset: 'veryfast' },
  '480p': { width: 854, height: 480, videoKbps: 900, fps: 25, preset: 'veryfast' },
};

/**
 * The quality ladder of a program, from the configured size down: when the machine cannot give the
 * encoder the CPU it needs, the stream steps down (smaller, fewer frames, a cheaper preset) instead of
 * stalling, and at the last step keeps only the sound, with a still card. Measured on this machine
 * (benchmarks/livestream), one step costs about half the CPU of the one above.
 */
export function ladder(size: '720p' | '480p'): ProgramSize[] {
  return [
    SIZES[size],
    { width: 854, height: 480, videoKbps: 700, fps: 15, preset: 'superfast' },
    { width: 640, height: 360, videoKbps: 400, fps: 10, preset: 'ultrafast' },
    { width: 640, height: 360, videoKbps: 60, fps: 5, preset: 'ultrafast', audioOnly: true },
  ];
}

/** What the encoder reports each second (`-progress`): how far it got, and how fast against real time. */
export interface Progress {
  frame: number;
  outTimeMs: number;
  speed: number | null;
  /**
   * When the encoder last made a video frame. Output time alone is not progress: with one camera's frames
   * held up, the sound can run on for seconds (the muxer's interleaving) while the picture stands still.
   */
  advancedAt: number;
}

/** Small tiles of the right-hand column, and how many fit (more participants are heard, not shown). */
function smallTile(size: ProgramSize): { w: number; h: number; count: number } {
  const w = Math.floor(size.width / 4 / 2) * 2;
  const h = Math.floor((w * 9) / 16 / 2) * 2;
  return { w, h, count: Math.floor(size.height / h) };
}

const text = (s: string): string => s.replace(/[\\':%,;[\]=]/g, ' ').slice(0, 40);

/**
 * The filtergraph: tile i shows SDP stream `video` (or a placeholder), the large area the tile chosen by
 * `streamselect` (command `map <i>`), audio streams mixed. Pure, so the layout can be read and tested.
 */
export function programGraph(
  tiles: { label: string; video: number | null; placeholder: string | null }[],
  audio: { stream: number; disguised: boolean }[],
  size: ProgramSize,
  words: ProgramWords = ENGLISH,
): string {
  const W = size.width;
  const H = size.height;
  const { w: smallW, h: smallH, count } = smallTile(size);
  const bigW = W - smallW;
  const fit = (w: number, h: number): string =>
    `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1`;
  const font = `fontfile=${FONT}:fontcolor=white:box=1:boxcolor=black@0.6`;
  const FPS = size.fps;
  const parts: string[] = [`color=c=0x1e2a38:s=${W}x${H}:r=${FPS}[bg]`];
  const shown = tiles.slice(0, count);
  shown.forEach((t, i) => {
    const source =
      t.video === null
        ? `color=c=0x3c4650:s=${bigW}x${H}:r=${FPS},drawtext=${font}:fontsize=${Math.round(H / 18)}:x=(w-tw)/2:y=(h-th)/2:text='${text(t.placeholder ?? 'no video')}'`
        : `[0:${t.video}]setpts=PTS-STARTPTS,fps=${FPS},${fit(bigW, H)}`;
    parts.push(`${source},split=2[big${i}][s${i}]`);
    parts.push(
      `[s${i}]${fit(smallW, smallH)},drawtext=${font}:fontsize=${Math.round(smallH / 9)}:x=6:y=h-th-6:text='${text(t.label)}'[small${i}]`,
    );
  });
  if (shown.length === 0)
    parts.push(
      `color=c=0x3c4650:s=${bigW}x${H}:r=${FPS},drawtext=${font}:fontsize=${Math.round(H / 18)}:x=(w-tw)/2:y=(h-th)/2:text='${text(words.waiting)}'[big]`,
    );
  else if (shown.length === 1) parts.push('[big0]null[big]');
  else parts.push(`${shown.map((_, i) => `[big${i}]`).join('')}streamselect=inputs=${shown.length}:map=0[big]`);
  let last = 'bg';
  parts.push(`[${last}][big]overlay=0:0:eof_action=repeat[o]`);
  last = 'o';
  shown.forEach((_, i) => {
    parts.push(`[${last}][small${i}]overlay=${bigW}:${i * smallH}:eof_action=repeat[o${i}]`);
    last = `o${i}`;
  });
  parts.push(`[${last}]format=yuv420p[vout]`);
  if (audio.length === 0) parts.push('anullsrc=r=48000:cl=stereo[aout]');
  else {
    audio.forEach((a, i) => {
      // A protected voice: pitch up by 30 % at the same tempo.
      const disguise = a.disguised ? ',asetrate=62400,aresample=48000,atempo=0.769' : '';
      parts.push(`[0:${a.stream}]asetpts=PTS-STARTPTS,aresample=48000:async=1000${disguise},aformat=channel_layouts=stereo[a${i}]`);
    });
    parts.push(`${audio.map((_, i) => `[a${i}]`).join('')}amix=inputs=${audio.length}:normalize=0:duration=longest[aout]`);
  }
  return parts.join(';');
}

/** Encoder and HLS settings shared by the program and the slate. */
function hlsOutput(workDir: string, runId: number, startNumber: number, size: ProgramSize): string[] {
  const FPS = size.fps;
  return [
    // Progress each second on stdout: frames and output time tell a slow encoder from a stuck one.
    '-progress',
    'pipe:1',
    '-stats_period',
    '1',
    '-c:v',
    'libx264',
    '-preset',
    size.preset,
    '-tune',
    'zerolatency',
    '-profile:v',
    'main',
    '-pix_fmt',
    'yuv420p',
    '-r',
    String(FPS),
    '-g',
    String(FPS * SEGMENT_SECONDS),
    '-keyint_min',
    String(FPS * SEGMENT_SECONDS),
    '-sc_threshold',
    '0',
    '-b:v',
    `${size.videoKbps}k`,
    '-maxrate',
    `${size.videoKbps}k`,
    '-bufsize',
    `${size.videoKbps * 2}k`,
    '-c:a',
    'aac',
    '-b:a',
    '128k',
    '-ar',
    '48000',
    '-ac',
    '2',
    '-max_interleave_delta',
    '1000000',
    '-f',
    'hls',
    '-hls_time',
    String(SEGMENT_SECONDS),
    '-hls_list_size',
    '0',
    '-hls_flags',
    'program_date_time+independent_segments+temp_file',
    '-start_number',
    String(startNumber),
    '-hls_segment_filename',
    path.join(workDir, 'seg_%06d.ts'),
    runPlaylist(workDir, runId),
  ];
}

const runPlaylist = (workDir: string, runId: number): string => path.join(workDir, `run-${runId}.m3u8`);

/**
 * Where a run's program goes: HLS segments in `workDir` (the public stream), or `rtp` — the picture and
 * the sound as RTP to local ports (a SIP terminal's view of the hearing, server/sip/feed.ts), with the
 * payload types and SSRCs the terminal was told.
 */
export interface RunOptions {
  workDir: string;
  runId: number;
  startNumber: number;
  size: ProgramSize;
  rtp?: RtpOutput;
}

export interface RtpOutput {
  /** `singleNal`: H.264 packetization mode 0 (each NAL unit a packet: slices cut to fit one). */
  video?: { port: number; payloadType: number; ssrc: number; singleNal?: boolean };
  /** `codec`: the terminal's sound (Opus unless it takes only G.722 or G.711). */
  audio: { port: number; payloadType: number; ssrc: number; codec?: 'audio/opus' | 'audio/G722' | 'audio/PCMA' | 'audio/PCMU' };
}

/** ffmpeg's encoder settings for each sound a terminal takes. */
const SOUND_ENCODERS: Record<string, string[]> = {
  'audio/opus': ['-c:a', 'libopus', '-b:a', '48k', '-ar', '48000', '-ac', '2', '-application', 'voip'],
  'audio/G722': ['-c:a', 'g722', '-ar', '16000', '-ac', '1'],
  'audio/PCMA': ['-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1'],
  'audio/PCMU': ['-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1'],
};

function output(o: RunOptions, video: string, audio: string): string[] {
  return o.rtp
    ? rtpOutput(o.rtp, o.size, video, audio)
    : ['-map', video, '-map', audio, ...hlsOutput(o.workDir, o.runId, o.startNumber, o.size)];
}

/**
 * The program as RTP (RTCP on the next port): constrained-baseline H.264 level 3.1 (packetization mode
 * 1, or mode 0 with each slice cut to fit a packet) with a key frame each 2 s, and Opus. A terminal
 * without video gets the sound only (the picture is made and dropped: the graph has it).
 */
function rtpOutput(rtp: RtpOutput, size: ProgramSize, video: string, audio: string): string[] {
  const progress = ['-progress', 'pipe:1', '-stats_period', '1'];
  const sound = [
    ...['-map', audio, ...SOUND_ENCODERS[rtp.audio.codec ?? 'audio/opus']!],
    ...['-payload_type', String(rtp.audio.payloadType), '-ssrc', String(rtp.audio.ssrc)],
    ...['-f', 'rtp', `rtp://127.0.0.1:${rtp.audio.port}?rtcpport=${rtp.audio.port + 1}`],
  ];
  if (!rtp.video) return [...progress, ...sound, '-map', video, '-f', 'null', '-'];
  return [
    ...progress,
    ...['-map', video, '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline'],
    ...['-level:v', '3.1', '-pix_fmt', 'yuv420p', '-r', String(size.fps)],
    ...['-g', String(size.fps * 2), '-b:v', `${size.videoKbps}k`, '-maxrate', `${size.videoKbps}k`, '-bufsize', `${size.videoKbps}k`],
    // Mode 0: no NAL unit larger than a packet's payload (1200 less the RTP header), none fragmented.
    ...(rtp.video.singleNal ? ['-slice-max-size', '1100', '-rtpflags', 'h264_mode0'] : []),
    ...['-payload_type', String(rtp.video.payloadType), '-ssrc', String(rtp.video.ssrc)],
    ...['-f', 'rtp', `rtp://127.0.0.1:${rtp.video.port}?rtcpport=${rtp.video.port + 1}&pkt_size=1200`],
    ...sound,
  ];
}

/** The program's encoder ended before it was ready to take the cameras. */
export class EncoderExited extends Error {
  constructor(
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly output: string,
  ) {
    super(`the program's ffmpeg exited before it was ready (${signal ?? `code ${code}`})${output ? `: ${output.slice(-200)}` : ''}`);
  }
}

/** One ffmpeg run writing segments (the program, or the slate while paused). */
export class ProgramRun {
  private stderr = '';
  /** Being ended on purpose (stop, kill): the service no longer watches or rebuilds it. */
  ending = false;
  /** What we sent it: 'q' (a clean stop) or SIGKILL. An exit that is not the answer to one of these is a failure. */
  private sentQuit = false;
  private sentKill = false;
  private speakerIndex = 0;
  private readonly startedAt = Date.now();
  private readonly progressNow: Progress = { frame: 0, outTimeMs: 0, speed: null, advancedAt: Date.now() };
  private progressLine = '';

  private constructor(
    private readonly ffmpeg: ChildProcess,
    private readonly taps: Tap[],
    private readonly tileOf: Map<string, number>,
    readonly runId: number,
    private readonly playlist: string,
  ) {
    ffmpeg.stderr!.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-2000)));
    ffmpeg.stdout?.on('data', (c: Buffer) => this.onProgress(c.toString()));
  }

  /** The encoder's latest progress (frames and output time; `speed` is output time over wall time). */
  get progress(): Readonly<Progress> {
    return this.progressNow;
  }

  /**
   * Nanoseconds the encoder's threads have spent on a CPU and waiting for one (the kernel's schedstat):
   * a run that falls behind while its threads wait for a CPU is starved; one whose threads are idle is
   * waiting for its inputs.
   */
  schedule(): { runNs: number; waitNs: number } | undefined {
    const pid = this.ffmpeg.pid;
    if (pid === undefined || this.hasExited) return undefined;
    let runNs = 0;
    let waitNs = 0;
    try {
      for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
        const [run = '0', wait = '0'] = fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ');
        runNs += Number(run);
        waitNs += Number(wait);
      }
    } catch {
      return undefined; // exited meanwhile, or no schedstat on this kernel
    }
    return { runNs, waitNs };
  }

  /** When this run started. */
  get started(): number {
    return this.startedAt;
  }

  private onProgress(chunk: string): void {
    const lines = (this.progressLine + chunk).split('\n');
    this.progressLine = lines.pop()!.slice(-200);
    const p = this.progressNow;
    for (const line of lines) {
      const [key, value = ''] = line.split('=', 2);
      if (key === 'frame' || key === 'out_time_us') {
        const n = key === 'frame' ? Number(value) : Math.floor(Number(value) / 1000);
        const field = key === 'frame' ? 'frame' : 'outTimeMs';
        if (Number.isFinite(n) && n > p[field]) {
          p[field] = n;
          if (field === 'frame') p.advancedAt = Date.now();
        }
      } else if (key === 'speed') {
        const v = Number.parseFloat(value);
        p.speed = Number.isFinite(v) ? v : null;
      }
    }
  }

  /** Milliseconds since this run last finished a segment (or since it started, before its first). */
  silentForMs(): number {
    return Date.now() - (this.lastSegmentAt() ?? this.startedAt);
  }

  /** Whether this run has finished a segment yet (its start takes a few seconds on a busy machine). */
  get producing(): boolean {
    return this.lastSegmentAt() !== undefined;
  }

  private lastSegmentAt(): number | undefined {
    try {
      return fs.statSync(this.playlist).mtimeMs;
    } catch {
      return undefined; // no segment yet
    }
  }

  readonly exited = (): Promise<number | null> =>
    new Promise((resolve) => (this.hasExited ? resolve(this.ffmpeg.exitCode) : this.ffmpeg.once('exit', (code) => resolve(code))));

  /** Exited on its own, or killed (a killed process has a signal and no exit code: it is gone all the same). */
  private get hasExited(): boolean {
    return this.ffmpeg.exitCode !== null || this.ffmpeg.signalCode !== null;
  }

  /** The encoder's process id (for /metrics and fault tests). */
  get pid(): number | undefined {
    return this.ffmpeg.pid;
  }

  get exitSignal(): NodeJS.Signals | null {
    return this.ffmpeg.signalCode;
  }

  get errorOutput(): string {
    return this.stderr.trim();
  }

  /** The program of `sources` in `room`. */
  static async program(
    room: MediaRoom,
    sources: ProgramSource[],
    o: RunOptions & { ports: PortPairs; words?: ProgramWords; peerId?: string },
  ): Promise<ProgramRun> {
    const words = o.words ?? ENGLISH;
    if (sources.length === 0) return ProgramRun.slate(words.waiting, o);
    // The last step of the ladder: no camera is tapped or decoded, only the microphones.
    const shown = o.size.audioOnly ? sources.map((s) => ({ ...s, videoProducerId: undefined })) : sources;
    const streams: { kind: 'audio' | 'video'; port: number; tap: Tap }[] = [];
    const tiles: { label: string; video: number | null; placeholder: string | null }[] = [];
    const audio: { stream: number; disguised: boolean }[] = [];
    const tileOf = new Map<string, number>();
    const tap = async (producerId: string, kind: 'audio' | 'video'): Promise<number> => {
      streams.push({ kind, port: o.ports.take(), tap: await openTap(room, o.peerId ?? LIVE_PEER, producerId, { rtcpMux: false }) });
      return streams.length - 1;
    };
    try {
      for (const s of shown) {
        if (tiles.length < smallTile(o.size).count) tileOf.set(s.participantId, tiles.length);
        // A hidden participant's video is never consumed: nothing of it can reach the output.
        const video = s.videoProducerId && !s.hidden ? await tap(s.videoProducerId, 'video') : null;
        tiles.push({
          label: s.label,
          video,
          placeholder: s.hidden ? words.protected : video === null ? words.soundOnly(s.label) : null,
        });
        if (s.audioProducerId) audio.push({ stream: await tap(s.audioProducerId, 'audio'), disguised: s.disguised });
      }
    } catch (error) {
      // A producer closed while the run was being built: nothing of the half-built run stays behind.
      for (const s of streams) s.tap.close();
      throw error;
    }
    const sdpFile = path.join(o.workDir, `run-${o.runId}.sdp`);
    fs.writeFileSync(
      sdpFile,
      sdpSession(
        streams.map((s) => ({ kind: s.kind, codec: s.tap.codec, port: s.port })),
        'hearing program',
      ),
    );
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      // -max_delay: the RTP reorder buffer may hold packets 0.1 s, not the default 0.5 s (mediasoup has
      // already repaired loss with NACK, and forwards in order).
      '-protocol_whitelist',
      'file,udp,rtp',
      '-analyzeduration',
      '2000000',
      '-max_delay',
      '100000',
      '-f',
      'sdp',
      '-i',
      sdpFile,
      '-filter_complex',
      programGraph(tiles, audio, o.size, words),
      ...output(o, '[vout]', '[aout]'),
    ];
    // stdin stays open: it carries the live `streamselect` commands.
    const ffmpeg = spawnTied('nice', ['-n', String(PROGRAM_NICENESS), 'ffmpeg', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const run = new ProgramRun(
      ffmpeg,
      streams.map((s) => s.tap),
      tileOf,
      o.runId,
      runPlaylist(o.workDir, o.runId),
    );
    // An encoder that dies before it is ready (killed, or refusing its graph) fails the start at once,
    // as an encoder exit: the service logs it as one and tries again.
    let ready = false;
    const died = new Promise<never>((_, reject) => {
      void run.exited().then((code) => {
        if (!ready) reject(new EncoderExited(code, run.exitSignal, run.errorOutput));
      });
    });
    try {
      await Promise.race([
        died,
        Promise.all(
          streams.map(async (s) => {
            // A run started on a machine short of CPU (the program encoder runs below everything else) may
            // take many seconds to start: it is given 30.
            if (!(await waitUntilBound(s.port, 30_000)))
              throw new Error(`the program's ffmpeg did not open port ${s.port}: ${run.errorOutput}`);
            await s.tap.connect(s.port); // a camera's key frame now reaches ffmpeg
          }),
        ),
      ]);
    } catch (error) {
      run.kill();
      throw error;
    } finally {
      ready = true;
    }
    run.keyFrames();
    return run;
  }

  /** The slate shown while the stream is paused. */
  static slate(message: string, o: RunOptions): ProgramRun {
    const font = `fontfile=${FONT}:fontcolor=white:fontsize=${Math.round(o.size.height / 14)}`;
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      `color=c=0x1e2a38:s=${o.size.width}x${o.size.height}:r=${o.size.fps},drawtext=${font}:x=(w-tw)/2:y=(h-th)/2:text='${text(message)}'`,
      '-re',
      '-f',
      'lavfi',
      '-i',
      'anullsrc=r=48000:cl=stereo',
      ...output(o, '0:v', '1:a'),
    ];
    return new ProgramRun(
      spawnTied('nice', ['-n', String(PROGRAM_NICENESS), 'ffmpeg', ...args], { stdio: ['pipe', 'pipe', 'pipe'] }),
      [],
      new Map(),
      o.runId,
      runPlaylist(o.workDir, o.runId),
    );
  }

  /** Key frames from every camera again until the run is producing (resuming asked for the first). */
  private keyFrames(): void {
    // A camera encoder sends key frames only when asked (no periodic ones), and one that is asked by many
    // consumers at once may skip a request: until the first segment is out (every camera decoded at least
    // once), every camera is asked again each second.
    const timer = setInterval(() => {
      if (this.ending || this.producing || Date.now() - this.startedAt > 20_000) return clearInterval(timer);
      for (const { consumer: c } of this.taps) if (c.kind === 'video' && !c.closed) void c.requestKeyFrame().catch(() => undefined);
    }, 1000);
    timer.unref();
  }

  /** Shows `participantId` large (a no-op for someone not in the layout). */
  setSpeaker(participantId: string): void {
    const index = this.tileOf.get(participantId);
    if (index === undefined || index === this.speakerIndex || this.tileOf.size < 2 || !this.acceptsCommands) return;
    this.speakerIndex = index;
    this.ffmpeg.stdin!.write(`cstreamselect -1 map ${index}\n`);
  }

  /** ffmpeg is running and its stdin open (a stalled or exited encoder's pipe is gone: writing would fail). */
  private get acceptsCommands(): boolean {
    const stdin = this.ffmpeg.stdin;
    return !this.hasExited && !!stdin && stdin.writable && !stdin.destroyed;
  }

  /** Ends the run cleanly: the segment being written is closed and listed. */
  async stop(): Promise<void> {
    this.ending = true;
    if (!this.hasExited) {
      if (this.acceptsCommands) {
        this.sentQuit = true;
        this.ffmpeg.stdin!.write('q');
      }
      const timer = setTimeout(() => this.sendKill(), 5000);
      await this.exited();
      clearTimeout(timer);
    }
    for (const t of this.taps) t.close();
  }

  /** Ends at once (a cut): nothing more is written. */
  kill(): void {
    this.ending = true;
    if (!this.hasExited) this.sendKill();
    for (const t of this.taps) t.close();
  }

  private sendKill(): void {
    this.sentKill = true;
    this.ffmpeg.kill('SIGKILL');
  }

  /**
   * Whether the exit was ours: a clean end after 'q', or the SIGKILL we sent. Anything else (killed by
   * someone else, a crash, an error) is a failure, even if it came while we were stopping it.
   */
  get exitedOnPurpose(): boolean {
    if (this.ffmpeg.signalCode === 'SIGKILL') return this.sentKill;
    if (this.ffmpeg.signalCode !== null) return false;
    return this.sentQuit && this.ffmpeg.exitCode === 0;
  }
}
