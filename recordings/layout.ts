import path from 'node:path';

/**
 * On-disk format of a hearing record:
 *   <data>/hearings/<hearing id>/manifest.jsonl      hash-chained lines (segments and events)
 *   <data>/hearings/<hearing id>/signature.json      Ed25519 signature of the head, at close
 *   <data>/hearings/<hearing id>/tracks/<participant>-<kind>-<producer>/<000001>.webm|mkv
 *   <data>/hearings/<hearing id>/evidence/<evidence id>.jpg (+ .thumb.jpg)   listed by `evidence.added` lines
 *   <data>/hearings/<hearing id>/signatures/<signature id>.png               listed by `transcript.signed` lines
 * Nothing else belongs there: verify names any other file.
 */
export const MANIFEST = 'manifest.jsonl';
export const SIGNATURE = 'signature.json';
export const TRACKS = 'tracks';
export const EVIDENCE = 'evidence';
export const SIGNATURES = 'signatures';

export const recordDir = (dataDir: string, hearingId: string): string => path.join(dataDir, 'hearings', hearingId);
