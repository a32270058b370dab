/**
 * Energy-based voice activity detection on 16 kHz mono float PCM, in 30 ms frames: an utterance starts
 * after 90 ms above the threshold (an adaptive noise floor × 4, at least -45 dBFS), ends after
 * `hangoverMs` below it, and is cut at `maxMs` so a long speech still produces text.
 */
export interface VadOptions {
  sampleRate?: number;
  hangoverMs?: number;
  maxMs?: number;
}

export interface SpeechSpan {
  startSample: number;
  samples: Float32Array;
}

export class Vad {
  private readonly frame: number;
  private readonly hangoverFrames: number;
  private readonly maxFrames: number;
  private floor = 1e-4;
  private pending: number[] = [];
  private buffer: Float32Array[] = [];
  private inSpeech = false;
  private voiced = 0;
  private silent = 0;
  private startSample = 0;
  private position = 0;
  private carry = new Float32Array(0);

  constructor(options: VadOptions = {}) {
    const rate = options.sampleRate ?? 16000;
    this.frame = Math.round(rate * 0.03);
    this.hangoverFrames = Math.round((options.hangoverMs ?? 600) / 30);
    this.maxFrames = Math.round((options.maxMs ?? 20_000) / 30);
  }

  /** Feeds samples; returns the utterances that ended. */
  push(samples: Float32Array): SpeechSpan[] {
    const all = new Float32Array(this.carry.length + samples.length);
    all.set(this.carry);
    all.set(samples, this.carry.length);
    const out: SpeechSpan[] = [];
    let offset = 0;
    for (; offset + this.frame <= all.length; offset += this.frame) {
      const frame = all.subarray(offset, offset + this.frame);
      const span = this.onFrame(frame);
      if (span) out.push(span);
    }
    this.carry = all.slice(offset);
    return out;
  }

  /** The utterance still going on, if any (for partial results). */
  current(): SpeechSpan | undefined {
    if (!this.inSpeech) return undefined;
    const length = this.buffer.reduce((n, b) => n + b.length, 0);
    const samples = new Float32Array(length);
    let at = 0;
    for (const b of this.buffer) {
      samples.set(b, at);
      at += b.length;
    }
    return { startSample: this.startSample, samples };
  }

  /** Ends the stream: a speech still open is returned. */
  flush(): SpeechSpan[] {
    return this.inSpeech ? [this.close()] : [];
  }

  private onFrame(frame: Float32Array): SpeechSpan | undefined {
    let energy = 0;
    for (const s of frame) energy += s * s;
    const rms = Math.sqrt(energy / frame.length);
    const threshold = Math.max(this.floor * 4, 0.0056); // -45 dBFS
    const speech = rms > threshold;
    if (!speech) this.floor = this.floor * 0.95 + rms * 0.05;
    const frameStart = this.position;
    this.position += frame.length;
    if (!this.inSpeech) {
      this.pending.push(frameStart);
      this.buffer.push(Float32Array.from(frame));
      if (this.buffer.length > 3) {
        this.buffer.shift();
        this.pending.shift();
      }
      this.voiced = speech ? this.voiced + 1 : 0;
      if (this.voiced >= 3) {
        this.inSpeech = true;
        this.silent = 0;
        this.startSample = this.pending[0] ?? frameStart;
      }
      return undefined;
    }
    this.buffer.push(Float32Array.from(frame));
    this.silent = speech ? 0 : this.silent + 1;
    if (this.silent >= this.hangoverFrames || this.buffer.length >= this.maxFrames) return this.close();
    return undefined;
  }

  private close(): SpeechSpan {
    const span = this.current()!;
    this.buffer = [];
    this.pending = [];
    this.inSpeech = false;
    this.voiced = 0;
    this.silent = 0;
    return span;
  }
}
