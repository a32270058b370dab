import { t } from '../i18n.ts';
import { run } from '../actions.ts';
import { useApp } from '../store.ts';

/**
 * For the judge and the clerk: each checked participant's result (status, distance, alerts, the
 * captured frame) with admit and refuse.
 */
export function IdentityReview() {
  const s = useApp();
  const notices = Object.values(s.identities);
  if (!notices.length) return null;
  return (
    <section class="identity" aria-labelledby="identity-heading">
      <h2 id="identity-heading">{t('identity.label')}</h2>
      <ul>
        {notices.map((n) => {
          const name = s.people[n.participantId]?.name ?? '';
          return (
            <li key={n.participantId} data-status={n.status}>
              <p>
                {t('identity.result', { name, status: t(`identity.status.${n.status}`) })}
                {n.distance !== null && ` · ${t('identity.distance', { distance: n.distance.toFixed(2) })}`}
                {n.alert && <strong> · {t('identity.alert', { alert: t(`identity.alerts.${n.alert}`) })}</strong>}
                {n.staticImage && ` · ${t('identity.photo')}`}
              </p>
              {n.frame && <img src={n.frame} alt={t('identity.frame', { name })} />}
              {(['admit', 'refuse'] as const).map((decision) => (
                <button
                  type="button"
                  key={decision}
                  onClick={() =>
                    run((a) =>
                      a.signaling.request('identityDecision', {
                        participantId: n.participantId,
                        decision,
                        reason: t(`identity.${decision}Reason`),
                      }),
                    )
                  }
                >
                  {t(`identity.${decision}`, { name })}
                </button>
              ))}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
