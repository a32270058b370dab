/** IPC between the server (workers/recorder.ts) and the recorder process (workers/recorder-process.ts). */
export interface TrackCodec {
  mimeType: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  parameters?: Record<string, unknown>;
}

export interface StartTrack {
  type: 'start';
  trackId: string;
  /** Absolute directory of the track's segments. */
  dir: string;
  kind: 'audio' | 'video';
  codec: TrackCodec;
  ssrc: number;
  ext: 'webm' | 'mkv';
  segmentSeconds: number;
  startNumber: number;
  stallMs: number;
}

export type ToRecorder = StartTrack | { type: 'stop'; trackId: string } | { type: 'quiet'; trackId: string; quiet: boolean };

export interface SegmentClosed {
  type: 'segment';
  trackId: string;
  file: string;
  number: number;
  bytes: number;
  sha256: string;
  wallStart: string;
  wallEnd: string;
  durationSeconds: number;
  rtpFirst: number | null;
  rtpLast: number | null;
}

export type FromRecorder =
  | { type: 'ready'; trackId: string; port: number }
  | { type: 'keyframe'; trackId: string }
  | SegmentClosed
  | { type: 'gap'; trackId: string; missing: number; afterSeq: number; nextSeq: number; at: string }
  | { type: 'stall'; trackId: string; silentMs: number; at: string }
  | { type: 'flowing'; trackId: string; afterMs: number; at: string }
  /** Packets dropped because ffmpeg was not yet running and the start-up queue was full. */
  | { type: 'dropped'; trackId: string; packets: number; at: string }
  | {
      type: 'stopped';
      trackId: string;
      code: number | null;
      expected: boolean;
      nextNumber: number;
      stderrTail: string;
      received: number;
      /** Packets passed to the writer. */
      forwarded: number;
      writer: 'mux' | 'ffmpeg';
      /** ffmpeg processes started, or the muxer's runs (a run ends after 5 s without media). */
      runs: number;
      /** Muxer: frames left out (incomplete, or after a loss before the next key frame). */
      framesDropped?: number;
    }
  /** What failed: the track's ffmpeg, the in-process muxer (that segment is given up), or the track's start. */
  | { type: 'error'; trackId: string; source: 'ffmpeg' | 'muxer' | 'recorder'; message: string };
