import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { RecognitionEvents, RecognitionStream, SpeechEngine } from './engine.ts';
import { Vad } from './vad.ts';
import { spawnTied } from '../taps/children.ts';

/**
 * The parts of @fugood/whisper.node's API used here (its lib/binding.ts). The package is CommonJS and
 * names a types file it does not ship, so it is loaded with require and typed by this interface.
 */
interface TranscribeResult {
  result: string;
  segments: { text: string; t0: number; t1: number }[];
}
interface WhisperContext {
  transcribeData(
    audio: ArrayBuffer,
    options?: { language?: string; maxThreads?: number },
  ): { stop: () => Promise<void>; promise: Promise<TranscribeResult> };
  release(): Promise<void>;
}
const whisperNode = createRequire(import.meta.url)('@fugood/whisper.node') as {
  initWhisper(options: { filePath: string; useGpu?: boolean }): Promise<WhisperContext>;
};

const RATE = 16000;
/** Utterances waiting for the model, across all speakers; beyond this the oldest waits are dropped and said. */
const MAX_PENDING = 8;
/** While an utterance goes on, its text so far is recognized every this many seconds of new speech. */
const PARTIAL_EVERY_S = 2;

/**
 * whisper.cpp through @fugood/whisper.node (prebuilt, in-process, inference on its own native thread):
 * one model loaded once, utterances from every speaker transcribed one at a time.
 */
export class WhisperEngine implements SpeechEngine {
  readonly name = 'whisper';
  readonly languages = ['zh', 'en', 'auto'] as const;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  private constructor(private readonly context: WhisperContext) {}

  /** Loads a ggml model file; throws with whisper.cpp's reason for a missing or corrupt file. */
  static async load(modelPath: string): Promise<WhisperEngine> {
    if (!fs.existsSync(modelPath)) throw new Error(`whisper model not found: ${modelPath}`);
    try {
      return new WhisperEngine(await whisperNode.initWhisper({ filePath: modelPath, useGpu: false }));
    } catch (error) {
      throw new Error(`whisper model ${modelPath} cannot be loaded: ${(error as Error).message}`);
    }
  }

  /** Nothing is waiting for the model (partial results are only worth it then). */
  get idle(): boolean {
    return this.pending === 0;
  }

  /** Transcribes 16 kHz mono PCM; segment times in seconds from its start. */
  transcribe(samples: Float32Array, language: string): Promise<{ text: string; startSec: number; endSec: number }[]> | undefined {
    if (this.pending >= MAX_PENDING) return undefined;
    this.pending++;
    const job = this.queue.then(async () => {
      try {
        const copy = samples.slice();
        const { promise } = this.context.transcribeData(copy.buffer, { language: language === 'auto' ? 'auto' : language, maxThreads: 2 });
        const result = await promise;
        return result.segments
          .map((s) => ({ text: s.text.trim(), startSec: s.t0 / 100, endSec: Math.min(s.t1 / 100, samples.length / RATE) }))
          .filter((s) => s.text);
      } finally {
        this.pending--;
      }
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  start(options: { sdpFile: string; language: string }): RecognitionStream {
    return new WhisperStream(this, options.sdpFile, options.language);
  }

  async release(): Promise<void> {
    await this.queue;
    await this.context.release();
  }
}

class WhisperStream extends EventEmitter<RecognitionEvents> implements RecognitionStream {
  readonly engine = 'whisper';
  private readonly ffmpeg;
  private readonly vad = new Vad({ sampleRate: RATE });
  private stderr = '';
  private work: Promise<void> = Promise.resolve();
  private partialAt = 0;

  constructor(
    private readonly whisper: WhisperEngine,
    sdpFile: string,
    private readonly language: string,
  ) {
    super();
    this.ffmpeg = spawnTied(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file,udp,rtp',
        '-listen_timeout',
        '3600',
        '-f',
        'sdp',
        '-i',
        sdpFile,
        '-af',
        'aresample=async=1:first_pts=0',
        '-ar',
        String(RATE),
        '-ac',
        '1',
        '-f',
        'f32le',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let carry: Buffer = Buffer.alloc(0);
    this.ffmpeg.stdout.on('data', (chunk: Buffer) => {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const usable = data.length - (data.length % 4);
      carry = data.subarray(usable);
      const samples = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + usable));
      const ended = this.vad.push(samples);
      for (const span of ended) this.recognize(span.startSample, span.samples);
      if (ended.length) this.partialAt = 0;
      this.maybePartial();
    });
    this.ffmpeg.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-1000)));
    this.ffmpeg.on('close', (code) => {
      for (const span of this.vad.flush()) this.recognize(span.startSample, span.samples);
      void this.work.then(() =>
        this.emit('ended', { code, error: code === 0 || code === null || code === 255 ? undefined : this.stderr.trim().slice(-500) }),
      );
    });
  }

  stop(): void {
    if (this.ffmpeg.exitCode === null) this.ffmpeg.kill('SIGINT');
    setTimeout(() => this.ffmpeg.exitCode === null && this.ffmpeg.kill('SIGKILL'), 1500).unref();
  }

  kill(): void {
    if (this.ffmpeg.exitCode === null && this.ffmpeg.signalCode === null) this.ffmpeg.kill('SIGKILL');
  }

  /** Partial text for a long utterance, when the model has nothing else to do. */
  private maybePartial(): void {
    const current = this.vad.current();
    if (!current || !this.whisper.idle) return;
    const seconds = current.samples.length / RATE;
    if (seconds - this.partialAt < PARTIAL_EVERY_S) return;
    this.partialAt = seconds;
    const job = this.whisper.transcribe(current.samples, this.language);
    void job?.then((segments) => {
      if (segments.length) this.emit('partial', { startSec: current.startSample / RATE, text: segments.map((s) => s.text).join(' ') });
    });
  }

  private recognize(startSample: number, samples: Float32Array): void {
    const job = this.whisper.transcribe(samples, this.language);
    if (!job) {
      this.emit('overload', { droppedSeconds: samples.length / RATE });
      return;
    }
    const offset = startSample / RATE;
    this.work = this.work.then(async () => {
      const segments = await job.catch(() => []);
      if (!segments.length) return;
      this.emit('utterance', {
        startSec: offset + segments[0]!.startSec,
        endSec: offset + segments.at(-1)!.endSec,
        text: segments.map((s) => s.text).join(' '),
        confidence: 1,
        words: [],
      });
    });
  }
}
