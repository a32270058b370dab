// The decision rule of a face check, apart from the plumbing so it can be read (and tested) alone.
import type { FaceSummary } from '../../workers/identity/face-messages.ts';

export interface IdentityThresholds {
  /** Median distance at or below which the person is `verified`. */
  accept: number;
  /** Median distance at or above which the person is `rejected`; in between: `needs_review`. */
  reject: number;
  /** Usable frames a check needs before it decides. */
  frames: number;
  /**
   * Usable frames a check may take when the first ones fall between accept and reject: it keeps
   * sampling (the person moves, the light changes) and decides on the median of them all, before
   * sending the person to a review. `frames` or less: decided on the first frames, as before.
   */
  maxFrames: number;
}

/**
 * Measured on the fixtures (3 people x 5 photos, face-api descriptors, tiny detector 416): genuine
 * distances 0.29-0.56, impostor 0.73-1.0; the feasibility study's 8 people: genuine up to 0.62,
 * impostor from 0.585. Accepting at <= 0.50 keeps every measured impostor out with a margin; 0.50-0.60
 * is where the two overlap, so a person decides there.
 */
export const DEFAULT_THRESHOLDS: IdentityThresholds = { accept: 0.5, reject: 0.6, frames: 3, maxFrames: 9 };

/** Face width (in the 640x480 frame) and detector score a frame needs to count. */
export const MIN_FACE_PX = 60;
export const MIN_SCORE = 0.6;

export type FrameQuality = 'ok' | 'no_face' | 'several_faces' | 'face_too_small' | 'low_score';

export function frameQuality(faces: FaceSummary[]): FrameQuality {
  if (faces.length === 0) return 'no_face';
  if (faces.length > 1) return 'several_faces';
  const face = faces[0]!;
  if (face.box.width < MIN_FACE_PX) return 'face_too_small';
  if (face.score < MIN_SCORE) return 'low_score';
  return 'ok';
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * The median of several frames: one bad frame (blur, a turned head) neither passes nor fails a person.
 * A median between the thresholds with fewer than `maxFrames` frames is `more`: take another frame
 * (`final`: the check has run out of time, decide on what there is).
 */
export function decide(
  distances: number[],
  t: IdentityThresholds,
  final = true,
): { status: 'verified' | 'rejected' | 'needs_review' | 'more'; distance: number } {
  const distance = median(distances);
  if (distance <= t.accept) return { status: 'verified', distance };
  if (distance >= t.reject) return { status: 'rejected', distance };
  return { status: !final && distances.length < t.maxFrames ? 'more' : 'needs_review', distance };
}

/**
 * Liveness hint: a photo held to the camera keeps its landmarks fixed relative to the face box, a
 * live face moves them (blinks, speech, small head turns). True when, over the frames, no key point
 * moved more than 1 % of the face width. A hint for the judge, never a decision on its own.
 */
export function looksStatic(keypointSets: { keypoints: number[]; box: FaceSummary['box'] }[]): boolean {
  if (keypointSets.length < 3) return false;
  const normalized = keypointSets.map(({ keypoints, box }) =>
    keypoints.map((v, i) => (i % 2 === 0 ? (v - box.x) / box.width : (v - box.y) / box.width)),
  );
  let maxMove = 0;
  for (const k of normalized.slice(1)) for (let i = 0; i < k.length; i++) maxMove = Math.max(maxMove, Math.abs(k[i]! - normalized[0]![i]!));
  return maxMove < 0.01;
}
