import type { TrackCodec } from '../record/messages.ts';

/** Messages between the server and the face process (advanced serialization: typed arrays pass as is). */
export type ToFace =
  | { type: 'describe'; id: number; rgb: Uint8Array; width: number; height: number }
  /** Decode the key frames of one video stream (RTP with this codec) and compare each with the reference. */
  | { type: 'watch'; watchId: string; codec: TrackCodec; reference: number[] }
  | { type: 'unwatch'; watchId: string };

export interface FaceSummary {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}

export type FromFace =
  | { type: 'ready'; model: string }
  | { type: 'described'; id: number; faces: (FaceSummary & { descriptor: number[] })[]; error?: string }
  /** ffmpeg listens on `port`: the server connects the consumer's transport there. */
  | { type: 'listening'; watchId: string; port: number }
  /**
   * One decoded key frame: every face found, the distance of the single face to the reference (null
   * unless exactly one face), landmark key points for the liveness hint, and a small JPEG for the judge.
   */
  | {
      type: 'frame';
      watchId: string;
      at: string;
      width: number;
      height: number;
      faces: FaceSummary[];
      distance: number | null;
      keypoints: number[] | null;
      jpeg: Uint8Array;
      ms: number;
    }
  | { type: 'watchEnded'; watchId: string; error?: string };
