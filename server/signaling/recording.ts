// Signaling messages that pause and resume the recording from the bench (role checks are done by the
// caller from REQUIRES; each request is logged before it is carried out).
import { AppError } from '../http/errors.ts';
import type { HearingService } from '../hearing/hearings.ts';
import type { Recorder } from '../../workers/record/recorder.ts';
import type { On } from './types.ts';

export function recordingHandlers(on: On, d: { hearings: HearingService; recorder: Recorder; changed: (hearingId: string) => void }): void {
  on('pauseRecording', async ({ reason }, { claims }) => {
    d.hearings.log(claims.hearingId, claims.participantId, 'record.pause_requested', { reason });
    if (!(await d.recorder.pause(claims.hearingId, claims.participantId, reason)))
      throw new AppError(409, 'not_recording', 'the hearing is not being recorded');
    d.changed(claims.hearingId);
    return { recording: false };
  });
  on('resumeRecording', async ({ reason }, { claims }) => {
    d.hearings.log(claims.hearingId, claims.participantId, 'record.resume_requested', { reason });
    if (!(await d.recorder.resume(claims.hearingId, claims.participantId, reason)))
      throw new AppError(409, 'cannot_resume', 'the hearing is not in session or already recording');
    d.changed(claims.hearingId);
    return { recording: true };
  });
}
