// Signaling messages about the hearing's transcript (笔录): edits and annotations, evidence placement,
// freezing and signing (role checks are done by the caller from REQUIRES; every action is logged and,
// where others see it, broadcast).
import type { HearingService } from '../hearing/hearings.ts';
import type { TranscriptService } from '../transcript/transcripts.ts';
import type { EvidenceService } from '../evidence/evidence.ts';
import type { TranscriptSigning } from '../transcript/signing.ts';
import type { On } from './types.ts';
import type { Action } from '../hearing/roles.ts';

export interface TranscriptDeps {
  hearings: HearingService;
  transcripts: TranscriptService;
  evidence: EvidenceService;
  signing: TranscriptSigning;
  broadcast: (hearingId: string, event: string, data: unknown) => void;
  broadcastTo: (hearingId: string, action: Action, event: string, data: unknown) => void;
}

export function transcriptHandlers(on: On, d: TranscriptDeps): void {
  on('editTranscript', ({ segmentId, text }, { claims }) => {
    const segment = d.transcripts.edit(claims.hearingId, segmentId, text, claims.participantId);
    d.hearings.log(claims.hearingId, claims.participantId, 'transcript.edited', { segmentId, version: segment.version });
    d.broadcast(claims.hearingId, 'transcriptUpdated', segment);
    return { segment };
  });
  on('registerSigningKey', ({ publicKey }, { claims }) => {
    const { keyId, fresh } = d.signing.registerKey(claims.participantId, publicKey as never);
    if (fresh) d.hearings.log(claims.hearingId, claims.participantId, 'signing_key.registered', { keyId });
    return { keyId };
  });
  on('freezeTranscript', (_data, { claims }) => {
    const frozen = d.signing.freeze(claims.hearingId, claims.participantId);
    d.hearings.log(claims.hearingId, claims.participantId, 'transcript.frozen', {
      version: frozen.version,
      digest: frozen.digest,
      manifestHead: frozen.manifestHead,
    });
    d.broadcast(claims.hearingId, 'transcriptFrozen', frozen);
    return frozen;
  });
  on('signTranscript', async ({ version, keyId, signature, image }, { claims }) => {
    const status = await d.signing.sign(claims.hearingId, claims.participantId, version, keyId, signature, image);
    d.hearings.log(claims.hearingId, claims.participantId, 'transcript.signed', {
      version,
      keyId,
      signature,
      imageSha256: status.imageSha256,
    });
    d.broadcast(claims.hearingId, 'transcriptSigned', status);
    return { signature: status };
  });
  on('placeEvidence', ({ evidenceId, afterSegmentId }, { claims }) => {
    const item = d.evidence.place(claims.hearingId, evidenceId, afterSegmentId);
    d.hearings.log(claims.hearingId, claims.participantId, 'evidence.placed', { evidenceId, afterSegmentId });
    d.broadcastTo(claims.hearingId, 'viewEvidence', 'evidencePlaced', item);
    return { evidence: item };
  });
  on('annotateTranscript', ({ segmentId, text }, { claims }) => {
    const annotation = d.transcripts.annotate(claims.hearingId, segmentId, text, claims.participantId);
    d.hearings.log(claims.hearingId, claims.participantId, 'transcript.annotated', { segmentId, annotationId: annotation.id });
    d.broadcast(claims.hearingId, 'transcriptAnnotated', annotation);
    return { annotation };
  });
}
