import path from 'node:path';

/**
 * On-disk format of a hearing record:
 *   <data>/hearings/<hearing id>/manifest.jsonl      hash-chained lines (segments and events)
 *   <data>/hearings/<hearing id>/signature.json      Ed25519 signature of the head, at close
 *   <data>/hearings/<hearing id>/tracks/<participant>-<kind>-<producer>/<000001>.webm|mkv
 */
export const MANIFEST = 'manifest.jsonl';
export const SIGNATURE = 'signature.json';
export const TRACKS = 'tracks';

export const recordDir = (dataDir: string, hearingId: string): string => path.join(dataDir, 'hearings', hearingId);
