// Courtroom cameras (issue 17): a fixed camera in the courtroom, added over REST as an RTSP URL the
// server pulls, or as an RTMP push to the server's listener (server/sources/rtmp.ts), which is then pulled
// from that listener the same way. It is a participant of role `courtroom` (no token, no page): its picture and sound are
// producers like anyone's, so the judge's and everyone's pages show it, the record keeps it, the
// transcriber hears its microphone and the public stream composes it.
//
// One ffmpeg per camera: it pulls the stream over RTSP (interleaved in TCP: a camera on the court's
// network behind a firewall is reached on one port) and sends VP8 and Opus as RTP, each with an SSRC of
// ours, into two mediasoup PlainTransports (comedia, RTCP on its own port: ffmpeg sends RTCP from a socket
// of its own). A camera's H.264 is re-encoded: IP cameras send High or Main profile, which the browsers'
// H.264 (constrained baseline) does not take, and the other participants' cameras are VP8 as well.
// ffprobe first learns what the camera sends (a camera without a microphone gets no sound).
//
// A camera that cannot be reached, or goes silent (nothing for STALL_MS), or whose ffmpeg ends, is retried
// with a growing pause (RETRY_MS); the record has every loss (`participant.left`, reason `camera lost`),
// each outage once (`source.unreachable`), each return (`participant.joined`, `rejoin`).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { types } from 'mediasoup';
import { spawnTied } from '../../workers/taps/children.ts';
import type { MediaPlane } from '../../workers/media/plane.ts';
import type { MediaRoom } from '../../workers/media/room.ts';
import { AppError } from '../http/errors.ts';
import type { HearingService } from '../hearing/hearings.ts';
import type { RtmpListener } from './rtmp.ts';
import { redact } from '../app/redact.ts';

/** Cameras per hearing, and on the whole server (each is an ffmpeg decoding and encoding video). */
export const MAX_SOURCES_PER_HEARING = 8;
export const MAX_SOURCES = 32;
/** No packet from a running camera for this long: its ffmpeg is ended and the camera tried again. */
const STALL_MS = 10_000;
/** Pauses between attempts (the last one repeats). */
const RETRY_MS = [1000, 2000, 5000, 10_000, 30_000];
/** ffprobe's and ffmpeg's socket timeout for the camera (µs, as ffmpeg takes it). */
const SOCKET_TIMEOUT_US = 5_000_000;

const VIDEO = { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 } as const;
const SOUND = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 } as const;

/** What the court platform sees of a camera. The URL's password is never shown or logged. */
export interface SourceView {
  id: string;
  name: string;
  role: 'courtroom';
  kind: 'rtsp' | 'rtmp';
  /** RTSP: the camera's URL, password hidden. RTMP: the push URL, key hidden (given whole once, when added). */
  url: string;
  /** RTMP: `waiting` for a push. */
  state: 'connecting' | 'live' | 'unreachable' | 'waiting';
  /** What the camera sends, once probed (e.g. `h264 1920x1080`, `aac`). */
  input?: { video?: string; audio?: string };
  lastError?: string;
  /** Attempts to reach it since it was last in the hearing. */
  attempts: number;
}

/** The signaling side of a camera's presence: as a SIP terminal's (server/signaling/signaling.ts). */
export interface Presence {
  joined(hearingId: string, participantId: string, detail: Record<string, unknown>): void;
  produced(hearingId: string, announcement: { producerId: string; participantId: string; kind: string; source: string }): Promise<void>;
  left(hearingId: string, participantId: string, detail: Record<string, unknown>): void;
}

interface Probed {
  video?: { codec: string; width: number; height: number };
  audio?: { codec: string };
}

/** What the camera sends (ffprobe with the ingest's input options). */
function probe(input: string[]): Promise<Probed> {
  return new Promise((resolve, reject) => {
    execFile(
      'ffprobe',
      ['-v', 'error', ...input.slice(0, -2), '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'json', input.at(-1)!],
      { timeout: 15_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(stderr.trim().split('\n').at(-1) || error.message));
        const streams = (JSON.parse(stdout) as { streams?: { codec_type: string; codec_name: string; width?: number; height?: number }[] })
          .streams;
        const video = streams?.find((s) => s.codec_type === 'video');
        const audio = streams?.find((s) => s.codec_type === 'audio');
        if (!video && !audio) return reject(new Error('the camera sends neither picture nor sound'));
        resolve({
          ...(video ? { video: { codec: video.codec_name, width: video.width ?? 0, height: video.height ?? 0 } } : {}),
          ...(audio ? { audio: { codec: audio.codec_name } } : {}),
        });
      },
    );
  });
}

/** Where a camera's media come from: an RTSP URL the server pulls, or RTMP pushes to the server's listener. */
export type CameraSource = { kind: 'rtsp'; url: string } | { kind: 'rtmp'; key: string; pushUrl: string; pullUrl: string };

/** ffmpeg's (and ffprobe's) input options for a camera, ending with `-i <url>`. */
function inputOf(source: CameraSource): string[] {
  return source.kind === 'rtsp'
    ? ['-rtsp_transport', 'tcp', '-timeout', String(SOCKET_TIMEOUT_US), '-fflags', 'nobuffer', '-i', source.url]
    : ['-rw_timeout', String(SOCKET_TIMEOUT_US), '-fflags', 'nobuffer', '-i', source.pullUrl];
}

/** The camera's address as it may be shown: without the RTSP password or the RTMP key. */
function shown(source: CameraSource): string {
  return source.kind === 'rtsp' ? redact(source.url) : source.pushUrl.replace(source.key, '***');
}

/** ffmpeg's words with the camera's secrets taken out. */
function scrub(text: string, source: CameraSource): string {
  return source.kind === 'rtsp'
    ? text.replaceAll(source.url, redact(source.url))
    : text.replaceAll(source.pullUrl, shown(source)).replaceAll(source.key, '***');
}

const ssrcBelow2p31 = (): number => randomBytes(4).readUInt32BE(0) >>> 1; // ffmpeg takes -ssrc as a signed 32-bit option

class CourtroomCamera {
  state: SourceView['state'] = 'connecting';
  input?: SourceView['input'];
  lastError?: string;
  private ffmpeg: ChildProcess | null = null;
  private transports: types.PlainTransport[] = [];
  private producers: types.Producer[] = [];
  private live = false;
  /** RTMP: a push is going on (only then is the local stream pulled, and pulled again after a failure). */
  private pushing = false;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private stall?: NodeJS.Timeout;
  private removed = false;
  private stderr = '';

  constructor(
    readonly hearingId: string,
    readonly participantId: string,
    readonly name: string,
    private readonly source: CameraSource,
    private readonly o: { plane: MediaPlane; hearings: HearingService; presence: () => Presence },
  ) {}

  view(): SourceView {
    return {
      id: this.participantId,
      name: this.name,
      role: 'courtroom',
      kind: this.source.kind,
      url: shown(this.source),
      state: this.state,
      attempts: this.attempt,
      ...(this.input ? { input: this.input } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** An RTSP camera is pulled at once; an RTMP camera waits for its push (`pushStarted`). */
  start(): void {
    if (this.source.kind === 'rtsp') void this.connect();
    else this.state = 'waiting';
  }

  /** RTMP: a push began (the listener checked its key). */
  pushStarted(): void {
    if (this.removed) return;
    this.pushing = true;
    clearTimeout(this.timer);
    this.state = 'connecting';
    void this.connect();
  }

  /** RTMP: the push ended (the ingest's ffmpeg ends with it: that is the loss). */
  pushEnded(): void {
    this.pushing = false;
  }

  remove(by: string): void {
    if (this.removed) return;
    this.removed = true;
    clearTimeout(this.timer);
    this.stop('removed', { by });
  }

  private async connect(): Promise<void> {
    if (this.removed) return;
    // A new RTMP push while the last one's ingest still runs (its ffmpeg has not noticed the end yet): that
    // run ends first, or it would go on beside the new one, unwatched.
    if (this.ffmpeg || this.live) this.stop('camera lost', { error: 'a new push' });
    let probed: Probed;
    try {
      probed = await probe(inputOf(this.source));
    } catch (error) {
      return this.failed((error as Error).message);
    }
    if (this.removed) return;
    this.input = {
      ...(probed.video ? { video: `${probed.video.codec} ${probed.video.width}x${probed.video.height}` } : {}),
      ...(probed.audio ? { audio: probed.audio.codec } : {}),
    };
    let room: MediaRoom;
    try {
      room = await this.o.plane.room(this.hearingId);
    } catch (error) {
      return this.failed((error as Error).message);
    }
    const outputs: string[] = [];
    const wanted: { kind: 'video' | 'audio'; transport: types.PlainTransport; ssrc: number }[] = [];
    try {
      for (const kind of ['video', 'audio'] as const) {
        if (!probed[kind]) continue;
        const transport = await room.createPlainTransport(this.participantId, 'send', { comedia: true, rtcpMux: false });
        this.transports.push(transport);
        const ssrc = ssrcBelow2p31();
        wanted.push({ kind, transport, ssrc });
        const to = `rtp://${transport.tuple.localIp}:${transport.tuple.localPort}?rtcpport=${transport.rtcpTuple!.localPort}&pkt_size=1200`;
        outputs.push(
          ...(kind === 'video'
            ? [
                ...['-map', '0:v:0', '-an', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-threads', '2'],
                // At most 1280x720, 25 fps; a key frame every 2 s (a page joining later waits at most that:
                // ffmpeg does not answer mediasoup's key frame requests).
                ...['-vf', "scale='min(1280,iw)':-2,fps=25", '-pix_fmt', 'yuv420p'],
                ...['-b:v', '1200k', '-maxrate', '1500k', '-bufsize', '1500k', '-g', '50', '-keyint_min', '50', '-error-resilient', '1'],
                ...['-payload_type', String(VIDEO.payloadType)],
              ]
            : [
                ...['-map', '0:a:0', '-vn', '-c:a', 'libopus', '-b:a', '48k', '-ar', '48000', '-ac', '2', '-application', 'audio'],
                ...['-payload_type', String(SOUND.payloadType)],
              ]),
          ...['-ssrc', String(ssrc), '-f', 'rtp', to],
        );
      }
    } catch (error) {
      this.closeMedia();
      return this.failed((error as Error).message);
    }
    this.stderr = '';
    const ffmpeg = spawnTied('ffmpeg', [...['-hide_banner', '-loglevel', 'error', '-nostdin'], ...inputOf(this.source), ...outputs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.ffmpeg = ffmpeg;
    ffmpeg.stderr!.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-2000)));
    ffmpeg.once('exit', (code, signal) => {
      if (this.ffmpeg !== ffmpeg) return;
      this.ffmpeg = null;
      const tail = this.stderr.trim().split('\n').at(-1) ?? '';
      this.lost(`ffmpeg ended (${signal ?? `code ${code}`})${tail ? `: ${scrub(tail, this.source)}` : ''}`);
    });
    // The first packet (comedia learns where ffmpeg sends from): the camera is in the hearing.
    const first = wanted[0]!.transport;
    first.once('tuple', () => void this.goLive(room, wanted, ffmpeg));
  }

  private async goLive(
    room: MediaRoom,
    wanted: { kind: 'video' | 'audio'; transport: types.PlainTransport; ssrc: number }[],
    ffmpeg: ChildProcess,
  ): Promise<void> {
    if (this.removed || this.ffmpeg !== ffmpeg) return;
    try {
      for (const { kind, transport, ssrc } of wanted) {
        const codec = kind === 'video' ? VIDEO : SOUND;
        const producer = await room.produce(
          this.participantId,
          transport.id,
          kind,
          {
            codecs: [
              {
                ...codec,
                parameters: {},
                rtcpFeedback:
                  kind === 'video' ? [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] : [],
              },
            ],
            encodings: [{ ssrc }],
          },
          kind === 'video' ? 'camera' : 'mic',
        );
        this.producers.push(producer);
      }
    } catch (error) {
      console.warn(`[sources] ${this.participantId}: cannot take the camera's media: ${(error as Error).message}`);
      ffmpeg.kill('SIGKILL'); // its exit is the loss, and the next attempt
      return;
    }
    if (this.removed || this.ffmpeg !== ffmpeg) return;
    if (this.state === 'unreachable')
      this.o.hearings.log(this.hearingId, 'system', 'source.reachable', { participantId: this.participantId });
    this.live = true;
    this.state = 'live';
    this.lastError = undefined;
    this.attempt = 0;
    this.o.presence().joined(this.hearingId, this.participantId, {
      endpoint: this.source.kind,
      url: shown(this.source),
      input: this.input,
      media: wanted.map((w) => (w.kind === 'video' ? VIDEO.mimeType : SOUND.mimeType)),
    });
    for (const p of this.producers)
      await this.o.presence().produced(this.hearingId, {
        producerId: p.id,
        participantId: this.participantId,
        kind: p.kind,
        source: p.appData.source as string,
      });
    this.watch(ffmpeg);
  }

  /** A camera whose packets stop (a network gone quiet, a stuck camera) without ffmpeg ending is ended. */
  private watch(ffmpeg: ChildProcess): void {
    let last = -1;
    let since = Date.now();
    const check = async (): Promise<void> => {
      if (this.ffmpeg !== ffmpeg) return;
      let packets = 0;
      for (const p of this.producers) for (const s of await p.getStats().catch(() => [])) packets += s.packetCount;
      if (packets !== last) {
        last = packets;
        since = Date.now();
      } else if (Date.now() - since >= STALL_MS) {
        this.stderr += `\nnothing from the camera for ${STALL_MS / 1000} s`;
        ffmpeg.kill('SIGKILL');
        return;
      }
      this.stall = setTimeout(() => void check(), 1000);
      this.stall.unref();
    };
    void check();
  }

  private failed(error: string): void {
    if (this.removed) return;
    // An RTMP camera whose push has ended: nothing to pull until it pushes again.
    if (this.source.kind === 'rtmp' && !this.pushing) {
      this.state = 'waiting';
      this.lastError = error;
      return;
    }
    const firstOfOutage = this.state !== 'unreachable';
    this.state = 'unreachable';
    this.lastError = error;
    if (firstOfOutage)
      this.o.hearings.log(this.hearingId, 'system', 'source.unreachable', {
        participantId: this.participantId,
        error,
        url: shown(this.source),
      });
    this.retry();
  }

  private lost(error: string): void {
    const wasLive = this.live;
    this.stop('camera lost', { error });
    if (this.removed) return;
    if (this.source.kind === 'rtmp' && !this.pushing) {
      this.state = 'waiting';
      this.lastError = error;
    } else if (wasLive) {
      this.state = 'connecting';
      this.lastError = error;
      this.retry();
    } else this.failed(error);
  }

  private retry(): void {
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)]!;
    this.attempt++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.timer.unref();
  }

  /** Ends the current run: ffmpeg, transports and producers; the hearing is told if the camera was in it. */
  private stop(reason: string, detail: Record<string, unknown>): void {
    clearTimeout(this.stall);
    const ffmpeg = this.ffmpeg;
    this.ffmpeg = null;
    ffmpeg?.kill('SIGKILL');
    this.closeMedia();
    if (this.live) this.o.presence().left(this.hearingId, this.participantId, { reason, endpoint: this.source.kind, ...detail });
    this.live = false;
  }

  private closeMedia(): void {
    for (const t of this.transports) t.close();
    this.transports = [];
    this.producers = [];
  }
}

/** The hearings' courtroom cameras. */
export class CourtroomSources {
  private readonly cameras = new Map<string, { camera: CourtroomCamera; key?: string }>();

  constructor(
    private readonly o: {
      plane: MediaPlane;
      hearings: HearingService;
      presence: () => Presence;
      /** The RTMP listener (HEARING_RTMP_PORT); without it `kind: "rtmp"` is refused. */
      rtmp?: RtmpListener;
    },
  ) {}

  /** A new camera; an RTMP camera's answer carries its whole push URL (`pushUrl`, and `pushUrlTls` for RTMPS), this once. */
  add(
    hearingId: string,
    body: { name: string; kind: 'rtsp'; url: string } | { name: string; kind: 'rtmp' },
    actor: string,
  ): SourceView & { pushUrl?: string; pushUrlTls?: string } {
    this.o.hearings.row(hearingId); // 404
    if (body.kind === 'rtmp' && !this.o.rtmp)
      throw new AppError(409, 'rtmp_off', 'this server takes no RTMP pushes (HEARING_RTMP_PORT is not set)');
    if (this.list(hearingId).length >= MAX_SOURCES_PER_HEARING)
      throw new AppError(429, 'limit_reached', `at most ${MAX_SOURCES_PER_HEARING} courtroom cameras in a hearing`);
    if (this.cameras.size >= MAX_SOURCES)
      throw new AppError(429, 'limit_reached', `at most ${MAX_SOURCES} courtroom cameras on this server`);
    // The listener's key comes first (it is part of the source); its pushes reach the camera made below.
    const made: { camera?: CourtroomCamera } = {};
    const rtmp =
      body.kind === 'rtmp'
        ? this.o.rtmp!.add({ started: () => made.camera?.pushStarted(), ended: () => made.camera?.pushEnded() })
        : undefined;
    const source: CameraSource = rtmp ? { kind: 'rtmp', ...rtmp } : { kind: 'rtsp', url: (body as { url: string }).url };
    const p = this.o.hearings.addSource(hearingId, body.name, { source: { kind: source.kind, url: shown(source) } }, actor);
    const camera = new CourtroomCamera(hearingId, p.id, body.name, source, this.o);
    made.camera = camera;
    this.cameras.set(p.id, { camera, ...(rtmp ? { key: rtmp.key } : {}) });
    camera.start();
    return {
      ...camera.view(),
      ...(rtmp ? { pushUrl: rtmp.pushUrl } : {}),
      ...(rtmp?.pushUrlTls ? { pushUrlTls: rtmp.pushUrlTls } : {}),
    };
  }

  list(hearingId: string): SourceView[] {
    return [...this.cameras.values()].filter(({ camera }) => camera.hearingId === hearingId).map(({ camera }) => camera.view());
  }

  get(hearingId: string, sourceId: string): SourceView {
    const camera = this.cameras.get(sourceId)?.camera;
    if (!camera || camera.hearingId !== hearingId) throw new AppError(404, 'not_found', 'no such courtroom camera in this hearing');
    return camera.view();
  }

  remove(hearingId: string, sourceId: string, actor: string): void {
    this.get(hearingId, sourceId);
    const { camera, key } = this.cameras.get(sourceId)!;
    this.cameras.delete(sourceId);
    if (key) this.o.rtmp?.remove(key);
    camera.remove(actor);
    this.o.hearings.log(hearingId, actor, 'source.removed', { participantId: sourceId });
  }

  /** A hearing that closes takes its cameras with it. */
  closeHearing(hearingId: string): void {
    for (const [id, { camera }] of this.cameras) if (camera.hearingId === hearingId) this.remove(hearingId, id, 'system');
  }

  close(): void {
    for (const { camera } of this.cameras.values()) camera.remove('system');
    this.cameras.clear();
    this.o.rtmp?.close();
  }
}
