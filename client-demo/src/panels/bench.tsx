import { useState } from 'preact/hooks';
import { t } from '../i18n.ts';
import { run } from '../actions.ts';
import { update, useApp, type CourtMedia } from '../store.ts';
import { AskAgain } from './confirm.tsx';

/** The bench: the roles that run the recording and the stream, and get the alerts. */
export const COURT = new Set(['judge', 'clerk']);

/**
 * The bench's recording and public stream: the recording paused and resumed with a reason (both go into
 * the record); the stream approved (judge), started, paused, stopped or cut (asked once more), and a
 * participant protected from the public (picture hidden, voice disguised).
 */
export function BenchMedia() {
  const s = useApp();
  const [reason, setReason] = useState('');
  const [confirmCut, setConfirmCut] = useState(false);
  const m = s.courtMedia;
  if (!m || !s.self || !COURT.has(s.self.role)) return null;
  const judge = s.self.role === 'judge';
  const record = (pause: boolean) => {
    if (!reason.trim()) return update({ status: { key: 'bench.reasonFirst' } });
    run(async (a) => {
      await a.signaling.request(pause ? 'pauseRecording' : 'resumeRecording', { reason: reason.trim() });
      setReason('');
    });
  };
  const stream = (action: string) => run((a) => a.signaling.request('stream', { action }));
  const st = m.stream.state;
  const running = st === 'live' || st === 'paused';
  return (
    <section class="bench" aria-labelledby="bench-heading">
      <h2 id="bench-heading">{t('bench.heading')}</h2>
      <div class="group" role="group" aria-label={t('bench.recording')}>
        <p>
          {t('bench.recording')}：<strong>{t(m.recording ? 'bench.recordingOn' : 'bench.recordingOff')}</strong>
        </p>
        <label>
          {t('bench.reason')}
          <input type="text" value={reason} maxLength={500} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        </label>
        <button type="button" onClick={() => record(m.recording)}>
          {t(m.recording ? 'bench.pauseRecording' : 'bench.resumeRecording')}
        </button>
      </div>
      <div class="group" role="group" aria-label={t('bench.stream')}>
        <p>
          {t('bench.stream')}：<strong>{t(m.stream.streamable ? `bench.streamState.${st}` : 'bench.notStreamable')}</strong>
          {m.stream.streamable && m.stream.approved && ` · ${t('bench.delay', { seconds: m.stream.delaySeconds })}`}
        </p>
        {m.stream.streamable && (
          <div class="row">
            {judge && !m.stream.approved && (
              <button type="button" onClick={() => stream('approve')}>
                {t('bench.approve')}
              </button>
            )}
            {m.stream.approved && st !== 'live' && (
              <button type="button" onClick={() => stream('start')}>
                {t(st === 'paused' ? 'bench.resumeStream' : 'bench.start')}
              </button>
            )}
            {st === 'live' && (
              <button type="button" onClick={() => stream('pause')}>
                {t('bench.pause')}
              </button>
            )}
            {running && (
              <button type="button" onClick={() => stream('stop')}>
                {t('bench.stop')}
              </button>
            )}
            {running &&
              (confirmCut ? (
                <AskAgain
                  question={t('bench.confirmCut')}
                  action={t('bench.cutNow')}
                  onConfirm={() => {
                    setConfirmCut(false);
                    stream('cut');
                  }}
                  onCancel={() => setConfirmCut(false)}
                />
              ) : (
                <button type="button" class="off" onClick={() => setConfirmCut(true)}>
                  {t('bench.cut')}
                </button>
              ))}
            {m.stream.approved && (
              <a href={m.stream.watch} target="_blank" rel="noopener">
                {t('bench.watch')}
              </a>
            )}
          </div>
        )}
        {m.stream.streamable && <Protections media={m} />}
      </div>
    </section>
  );
}

/** Who is kept from the public: one button per participant (not the court) to protect or release. */
function Protections({ media }: { media: CourtMedia }) {
  const s = useApp();
  const people = Object.values(s.people).filter((p) => !COURT.has(p.role) && p.role !== 'viewer');
  if (!people.length) return null;
  return (
    <ul class="protections">
      {people.map((p) => {
        const on = media.protections.some((x) => x.participantId === p.participantId && x.hidden);
        return (
          <li key={p.participantId}>
            <span>{p.name}</span>
            {on && <span class="presence">{t('bench.protected')}</span>}
            <button
              type="button"
              class="small"
              onClick={() =>
                run((a) =>
                  a.signaling.request('setProtection', {
                    participantId: p.participantId,
                    hidden: !on,
                    voice: on ? 'natural' : 'disguised',
                  }),
                )
              }
            >
              {t(on ? 'bench.unprotect' : 'bench.protect', { name: p.name })}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
