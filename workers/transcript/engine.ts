import type { EventEmitter } from 'node:events';

/** A recognized utterance, in seconds of the speaker's audio stream (0 = the tap's first sample). */
export interface Utterance {
  startSec: number;
  endSec: number;
  text: string;
  /** Mean word posterior, 0–1. */
  confidence: number;
  words: { word: string; startSec: number; endSec: number; p: number }[];
}

export type RecognitionEvents = {
  utterance: [Utterance];
  ended: [info: { code: number | null; error?: string }];
  /** The text so far of an utterance still going on (replaced by its final `utterance`). */
  partial: [info: { startSec: number; text: string }];
  /** Speech dropped because the engine could not keep up (back-pressure). */
  overload: [info: { droppedSeconds: number }];
};

export interface RecognitionStream extends EventEmitter<RecognitionEvents> {
  readonly engine: string;
  /** Finishes the current utterance from the audio already received, then ends. */
  stop(): void;
  /** Ends at once (server shutdown): every process it started is killed. */
  kill(): void;
}

/** Speech engines behind one interface: each recognizes one speaker's RTP stream (given as an SDP). */
export interface SpeechEngine {
  readonly name: string;
  readonly languages: readonly string[];
  start(options: { sdpFile: string; language: string }): RecognitionStream;
}
