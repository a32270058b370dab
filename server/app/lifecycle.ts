import { HearingLifecycle } from '../hearing/lifecycle.ts';
import type { HearingService } from '../hearing/hearings.ts';
import type { ConsultationService } from '../hearing/consultations.ts';
import type { TranscriptService } from '../transcript/transcripts.ts';
import type { TranscriptSigning } from '../transcript/signing.ts';
import type { LivestreamService } from '../livestream/livestream.ts';
import type { IdentityService } from '../identity/identity.ts';
import type { Signaling } from '../signaling/signaling.ts';
import type { Recorder } from '../../workers/record/recorder.ts';
import type { Transcriber } from '../../workers/transcript/transcriber.ts';

interface Services {
  hearings: HearingService;
  recorder: Recorder;
  transcriber: Transcriber;
  transcripts: TranscriptService;
  signing: TranscriptSigning;
  live: LivestreamService;
  consultations: ConsultationService;
  identity: IdentityService;
  signaling: Signaling;
}

/**
 * What each transition does, in order:
 * - into session: the record attaches every track first (its first seconds come first), then the
 *   transcriber taps every speaker, then the public stream leaves its adjournment slate;
 * - out of session (adjourned, waiting room): transcription stops at once, the record pauses once every
 *   track has closed its segment, the stream shows the slate;
 * - closed: the stream's encoder stops, open consultations end, the transcript is frozen into the record,
 *   the record is sealed and signed, face descriptors are deleted, and only then are the room closed and
 *   everyone disconnected.
 */
export function hearingLifecycle(s: Services): HearingLifecycle {
  const lifecycle = new HearingLifecycle((t, step, error) => {
    console.error(`[lifecycle] ${t.hearingId} → ${t.to}: ${step}: ${error.message}`);
    s.hearings.log(t.hearingId, 'system', 'hearing.step_failed', { to: t.to, step, error: error.message.slice(0, 300) });
  });
  return (
    lifecycle
      .step('in_session', 'record', (t) => s.recorder.stateChanged(t.hearingId, t.to, t.actor))
      .step('in_session', 'transcript', (t) => s.transcriber.stateChanged(t.hearingId))
      .step('in_session', 'stream', (t) => s.live.stateChanged(t.hearingId, t.to))
      .step('out_of_session', 'transcript', (t) => s.transcriber.stateChanged(t.hearingId))
      .step('out_of_session', 'record', (t) => s.recorder.stateChanged(t.hearingId, t.to, t.actor))
      .step('out_of_session', 'stream', (t) => s.live.stateChanged(t.hearingId, t.to))
      // The bench sees the recording and the stream as the transition left them.
      .step('in_session', 'bench', (t) => s.signaling.sendCourtMedia(t.hearingId))
      .step('out_of_session', 'bench', (t) => s.signaling.sendCourtMedia(t.hearingId))
      .step('closed', 'stream', (t) => s.live.stateChanged(t.hearingId, t.to))
      .step('closed', 'consultations', (t) => s.consultations.closeHearing(t.hearingId))
      .step('closed', 'transcript', (t) => {
        s.transcriber.stateChanged(t.hearingId);
        freezeAtClose(s, t.hearingId);
      })
      .step('closed', 'record', async (t) => {
        await s.recorder.stateChanged(t.hearingId, t.to, t.actor);
        // The platform learns the sealed head from the log and its webhook (`hearing.record.sealed`).
        const rec = s.recorder.get(t.hearingId);
        if (rec?.isFinalized)
          s.hearings.log(t.hearingId, 'system', 'record.sealed', { lines: rec.manifest.head.seq, headHash: rec.manifest.head.hash });
      })
      .step('closed', 'identity', (t) => s.identity.closeHearing(t.hearingId))
      .step('closed', 'disconnect', (t) => s.signaling.closeHearing(t.hearingId))
  );
}

/** The transcript as it stands is frozen into the record (unless it already was, unchanged). */
function freezeAtClose(s: Services, hearingId: string): void {
  if (!s.transcripts.list(hearingId).length) return;
  const digest = s.transcripts.digest(hearingId);
  if (s.signing.freezes(hearingId).at(-1)?.digest === digest) return;
  const frozen = s.signing.freeze(hearingId, 'system');
  s.hearings.log(hearingId, 'system', 'transcript.frozen', {
    version: frozen.version,
    digest: frozen.digest,
    manifestHead: frozen.manifestHead,
    atClose: true,
  });
}
