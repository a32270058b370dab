import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MediaPlane } from '../media/plane.ts';
import type { MediaRoom, ProducerInfo } from '../media/room.ts';
import type { RecognitionStream, SpeechEngine } from './engine.ts';
import { pocketsphinxEngine } from './pocketsphinx.ts';
import { sdpFor } from '../taps/sdp.ts';
import { PortPairs, waitUntilBound } from '../taps/udp-ports.ts';
import { spawnInTurn } from '../taps/spawn-queue.ts';
import { followMainRooms, openTap, type Tap as MediaTap } from '../taps/tap.ts';

export const TRANSCRIBER_PEER = 'transcriber';
const MAX_RESTARTS = 5;

export interface TranscriptSegmentEvent {
  hearingId: string;
  participantId: string;
  producerId: string;
  start: string;
  end: string;
  text: string;
  confidence: number;
  engine: string;
  language: string;
}

interface Tap {
  producerId: string;
  participantId: string;
  media: MediaTap;
  stream: RecognitionStream;
  tmpDir: string;
  /** Wall clock of the tap's stream time 0 (its consumer started sending). */
  originMs: number;
}

interface TranscriberEvents {
  segment: [segment: TranscriptSegmentEvent];
  /** The text so far of an utterance still going on (not stored; the final segment replaces it). */
  partial: [partial: { hearingId: string; participantId: string; start: string; text: string; engine: string }];
  /** Something the hearing's log should say (engine fallback, engine exit). */
  notice: [info: { hearingId: string; action: string; detail: Record<string, unknown> }];
}

export interface TranscriberOptions {
  plane: MediaPlane;
  inSession: (hearingId: string) => boolean;
  asrOf: (hearingId: string) => { engine: string; language: string };
  portRange: { min: number; max: number };
  /** Engines that loaded, by name (pocketsphinx is always there). */
  engines: Record<string, SpeechEngine>;
  /** Why an engine is not there (e.g. its model file is missing or corrupt), by name. */
  unavailable: Record<string, string>;
}

/**
 * Live transcription: while a hearing is in session, every main-room audio producer is consumed
 * through a PlainTransport and recognized by the hearing's engine in its own processes (ffmpeg decode
 * → engine); the speaker is known from the track, so no diarization is needed.
 */
export class Transcriber extends EventEmitter<TranscriberEvents> {
  private readonly taps = new Map<string, Map<string, Tap>>();
  /** Producers whose tap is being set up (so two triggers do not start two). */
  private readonly starting = new Set<string>();
  private readonly ports: PortPairs;
  /** Every recognition stream started and not yet ended (including those finishing after an untap). */
  private readonly live = new Set<RecognitionStream>();
  private closed = false;
  /** Engine restarts after an unexpected exit, by producer. */
  private readonly restarts = new Map<string, number>();

  constructor(private readonly o: TranscriberOptions) {
    super();
    this.ports = new PortPairs(o.portRange.min, o.portRange.max);
    followMainRooms(o.plane, (room) => {
      room.on('producerAdded', (info) => {
        if (this.o.inSession(room.hearingId)) void this.tap(room, info);
      });
      room.on('producerClosed', ({ producerId }) => this.untap(room.hearingId, producerId));
      // Its consumers went with it (a worker death): the rebuilt room's producers get new taps.
      room.observer.once('close', () => this.stopHearing(room.hearingId));
      if (o.inSession(room.hearingId)) void this.startHearing(room.hearingId);
    });
  }

  /** Hearing state changed: transcribe while in session, stop otherwise. */
  stateChanged(hearingId: string): Promise<void> {
    if (this.o.inSession(hearingId)) return this.startHearing(hearingId);
    this.stopHearing(hearingId);
    return Promise.resolve();
  }

  /** The hearing moved to another node (cluster): nothing of it is transcribed here any more. */
  relinquish(hearingId: string): void {
    this.stopHearing(hearingId);
  }

  /** Whether this producer's speech reaches a decoder now. */
  isTapped(hearingId: string, producerId: string): boolean {
    return (this.taps.get(hearingId)?.get(producerId)?.originMs ?? 0) > 0;
  }

  activeTaps(hearingId: string): number {
    return [...(this.taps.get(hearingId)?.values() ?? [])].filter((t) => t.originMs > 0).length;
  }

  /**
   * Server shutdown: every decoder is asked to finish, and whatever is still running after a moment is
   * killed, so no decoder outlives the server.
   */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    for (const hearingId of this.taps.keys()) this.stopHearing(hearingId);
    const deadline = Date.now() + graceMs;
    while (this.live.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const stream of this.live) stream.kill();
  }

  private async startHearing(hearingId: string): Promise<void> {
    const room = this.o.plane.get(hearingId);
    if (!room) return;
    await Promise.all(room.producers().map((info) => this.tap(room, info)));
  }

  private stopHearing(hearingId: string): void {
    for (const producerId of [...(this.taps.get(hearingId)?.keys() ?? [])]) this.untap(hearingId, producerId);
  }

  private engineFor(hearingId: string): { engine: SpeechEngine; language: string } {
    const wanted = this.o.asrOf(hearingId);
    const engine = this.o.engines[wanted.engine];
    if (engine && engine.languages.includes(wanted.language)) return { engine, language: wanted.language };
    const reason = engine
      ? `language ${wanted.language} not supported by ${wanted.engine}`
      : `engine ${wanted.engine} not available: ${this.o.unavailable[wanted.engine] ?? 'unknown engine'}`;
    this.emit('notice', { hearingId, action: 'transcript.engine_fallback', detail: { wanted, using: 'pocketsphinx', reason } });
    return { engine: pocketsphinxEngine, language: 'en' };
  }

  private async tap(room: MediaRoom, info: ProducerInfo): Promise<void> {
    if (this.closed || this.o.asrOf(room.hearingId).engine === 'off') return;
    if (info.kind !== 'audio' || info.participantId === TRANSCRIBER_PEER || info.source === 'ingest') return;
    const hearingTaps = this.taps.get(room.hearingId) ?? new Map<string, Tap>();
    this.taps.set(room.hearingId, hearingTaps);
    if (hearingTaps.has(info.producerId) || this.starting.has(info.producerId)) return;
    this.starting.add(info.producerId);
    try {
      await this.startTap(room, info, hearingTaps);
    } catch (error) {
      // E.g. the producer closed between its announcement and the tap: logged, never thrown at the caller.
      this.emit('notice', {
        hearingId: room.hearingId,
        action: 'transcript.tap_failed',
        detail: { participantId: info.participantId, producerId: info.producerId, error: (error as Error).message },
      });
    } finally {
      this.starting.delete(info.producerId);
    }
  }

  private async startTap(room: MediaRoom, info: ProducerInfo, hearingTaps: Map<string, Tap>): Promise<void> {
    const { engine, language } = this.engineFor(room.hearingId);
    const media = await openTap(room, TRANSCRIBER_PEER, info.producerId, { rtcpMux: false });
    const { codec } = media;
    const port = this.ports.take();
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'asr-'));
    const sdpFile = path.join(tmpDir, 'speaker.sdp');
    fs.writeFileSync(
      sdpFile,
      sdpFor(
        {
          kind: 'audio',
          codec: { mimeType: codec.mimeType, payloadType: codec.payloadType, clockRate: codec.clockRate, channels: codec.channels },
        },
        port,
      ),
    );
    // Spawned in turn: a hearing opening with many speakers must not stall the server (or the recorder).
    const stream = await spawnInTurn(() => engine.start({ sdpFile, language }));
    this.live.add(stream);
    if (this.closed) {
      stream.once('ended', () => {
        this.live.delete(stream);
        fs.rmSync(tmpDir, { recursive: true, force: true });
      });
      stream.kill();
      media.close();
      return;
    }
    const tap: Tap = { producerId: info.producerId, participantId: info.participantId, media, stream, tmpDir, originMs: 0 };
    hearingTaps.set(info.producerId, tap);
    stream.on('utterance', (u) => {
      this.emit('segment', {
        hearingId: room.hearingId,
        participantId: info.participantId,
        producerId: info.producerId,
        start: new Date(tap.originMs + u.startSec * 1000).toISOString(),
        end: new Date(tap.originMs + u.endSec * 1000).toISOString(),
        text: u.text,
        confidence: u.confidence,
        engine: stream.engine,
        language,
      });
    });
    stream.on('partial', ({ startSec, text }) => {
      this.emit('partial', {
        hearingId: room.hearingId,
        participantId: info.participantId,
        start: new Date(tap.originMs + startSec * 1000).toISOString(),
        text,
        engine: stream.engine,
      });
    });
    stream.on('overload', ({ droppedSeconds }) => {
      this.emit('notice', {
        hearingId: room.hearingId,
        action: 'transcript.backpressure',
        detail: { participantId: info.participantId, engine: stream.engine, droppedSeconds },
      });
    });
    stream.on('ended', ({ code, error }) => {
      this.live.delete(stream);
      fs.rmSync(tmpDir, { recursive: true, force: true });
      if (hearingTaps.get(info.producerId) === tap) {
        hearingTaps.delete(info.producerId);
        // An engine that died under a speaker still talking is started again (a few times per speaker).
        this.retry(room, info);
        this.emit('notice', {
          hearingId: room.hearingId,
          action: 'transcript.engine_exit',
          detail: { participantId: info.participantId, engine: stream.engine, code, error },
        });
      }
    });
    if (!(await waitUntilBound(port, 10_000))) {
      this.emit('notice', {
        hearingId: room.hearingId,
        action: 'transcript.engine_exit',
        detail: { participantId: info.participantId, error: 'ffmpeg did not open its RTP port' },
      });
      this.untap(room.hearingId, info.producerId);
      // A decoder too slow to start on a busy machine: tried again like one that died.
      this.retry(room, info);
      return;
    }
    await media.connect(port);
    tap.originMs = Date.now();
  }

  /** Taps the speaker again a second later, a few times per speaker (MAX_RESTARTS). */
  private retry(room: MediaRoom, info: ProducerInfo): void {
    const restarts = (this.restarts.get(info.producerId) ?? 0) + 1;
    this.restarts.set(info.producerId, restarts);
    if (restarts > MAX_RESTARTS) return;
    setTimeout(() => {
      if (!this.closed && this.o.inSession(room.hearingId) && room.findProducer(info.producerId)) void this.tap(room, info);
    }, 1000).unref();
  }

  private untap(hearingId: string, producerId: string): void {
    const tap = this.taps.get(hearingId)?.get(producerId);
    if (!tap) return;
    this.taps.get(hearingId)!.delete(producerId);
    tap.stream.stop();
    // Keep the consumer flowing a moment: ffmpeg leaves at its next packet after SIGINT.
    setTimeout(() => tap.media.close(), 1000).unref();
  }
}
