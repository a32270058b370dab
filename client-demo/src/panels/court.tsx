import { useState } from 'preact/hooks';
import { clock, t } from '../i18n.ts';
import { run } from '../actions.ts';
import { useApp } from '../store.ts';
import { AskAgain } from './confirm.tsx';
import { COURT } from './bench.tsx';

/** The judge's hearing control: one button per state or phase the hearing may go to, by its name. */
export function CourtControls() {
  const s = useApp();
  const [confirming, setConfirming] = useState(false);
  if (s.self?.role !== 'judge' || !s.allowedTransitions.length) return null;
  const go = (to: string) => run((a) => a.session.transition(to));
  return (
    <section class="court" aria-label={t('court.label')}>
      <h2>{t('court.stateLabel')}</h2>
      {confirming ? (
        // Closing seals the record for good: asked once more.
        <AskAgain
          question={t('court.confirmClose')}
          action={t('court.confirm')}
          onConfirm={() => {
            setConfirming(false);
            go('closed');
          }}
          onCancel={() => setConfirming(false)}
        />
      ) : (
        <div class="row">
          {s.allowedTransitions.map((to) => (
            <button type="button" key={to} data-transition={to} onClick={() => (to === 'closed' ? setConfirming(true) : go(to))}>
              {t(`state.${to}`)}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}

/** Everybody in the hearing: name, role, online or not. */
export function Participants() {
  const s = useApp();
  const people = Object.values(s.people);
  if (!people.length) return null;
  return (
    <section class="people" aria-labelledby="people-heading">
      <h2 id="people-heading">{t('court.participants')}</h2>
      <ul>
        {people.map((p) => (
          <li key={p.participantId} data-online={String(Boolean(p.online) || p.participantId === s.self?.participantId)}>
            <span>{p.name}</span> <span class="role">{t(`role.${p.role}`)}</span>
            {p.participantId === s.self?.participantId ? (
              <span>{t('court.self')}</span>
            ) : (
              <span class="presence">{t(p.online ? 'court.online' : 'court.offline')}</span>
            )}
            {p.terminal && <span class="presence">{t('court.terminal')}</span>}
            {p.role === 'witness' && p.waiting && <span class="presence">{t('court.waitingWitness')}</span>}
            {s.quality[p.participantId] && p.online && p.participantId !== s.self?.participantId && (
              <span class="presence" data-quality={s.quality[p.participantId]}>
                {t(`court.quality.${s.quality[p.participantId]}`)}
              </span>
            )}
            {s.courtMuted.includes(p.participantId) && <span class="presence">{t('court.muted')}</span>}
            {s.self?.role === 'judge' && p.role !== 'judge' && p.role !== 'viewer' && !(p.role === 'witness' && p.waiting) && (
              <MuteButton participantId={p.participantId} name={p.name} muted={s.courtMuted.includes(p.participantId)} />
            )}
            {s.self?.role === 'judge' && p.role === 'witness' && (
              <CallButton participantId={p.participantId} name={p.name} waiting={p.waiting !== false} />
            )}
            {s.self?.role === 'judge' && p.terminal && p.online && <HangUpButton participantId={p.participantId} name={p.name} />}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** The judge mutes someone's courtroom microphone (paused at the server; they cannot turn it back on). */
function MuteButton({ participantId, name, muted }: { participantId: string; name: string; muted: boolean }) {
  return (
    <button
      type="button"
      class="small"
      onClick={() => run((a) => a.signaling.request('muteParticipant', { participantId, muted: !muted }))}
    >
      {t(muted ? 'court.unmute' : 'court.mute', { name })}
    </button>
  );
}

/** The judge calls a witness into the courtroom, and sends them back to wait after their testimony. */
function CallButton({ participantId, name, waiting }: { participantId: string; name: string; waiting: boolean }) {
  return (
    <button type="button" class="small" onClick={() => run((a) => a.signaling.request('callWitness', { participantId, called: waiting }))}>
      {t(waiting ? 'court.callIn' : 'court.sendBack', { name })}
    </button>
  );
}

/** The judge ends a terminal's call (a disruptive party in a detention centre, a terminal left connected). */
function HangUpButton({ participantId, name }: { participantId: string; name: string }) {
  return (
    <button type="button" class="small" onClick={() => run((a) => a.signaling.request('hangUpTerminal', { participantId }))}>
      {t('court.hangUp', { name })}
    </button>
  );
}

/** What the bench is alerted to as it happens (newest first): people dropping out, faults, identity. */
export function Alerts() {
  const s = useApp();
  if (!s.self || !COURT.has(s.self.role) || !s.alerts.length) return null;
  return (
    <section class="alerts" aria-labelledby="alerts-heading">
      <h2 id="alerts-heading">{t('alerts.heading')}</h2>
      <ul>
        {s.alerts.map((a, i) => (
          <li key={`${a.at}-${i}`}>
            <time>{clock(a.at)}</time>{' '}
            {t(`alerts.${a.action.replace('.', '_')}`, {
              name: (a.participantId && s.people[a.participantId]?.name) || t('alerts.system'),
              kind: a.kind ? t(`alerts.kinds.${a.kind}`) : '',
              missing: a.missing ?? 0,
              count: a.tracks ?? 1,
            })}
            {a.alert ? ` · ${t(`identity.alerts.${a.alert}`)}` : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}
