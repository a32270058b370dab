import { t } from '../i18n.ts';
import { run } from '../actions.ts';
import { useApp } from '../store.ts';

/**
 * A party and their lawyer: ask for a private consultation; the one asked accepts or declines; the
 * asker may withdraw; either ends it.
 */
export function Consultations() {
  const { consult: c } = useApp();
  if (!c.active && !c.invitation && !c.options.length) return null;
  return (
    <section class="consult" aria-label={t('consult.label')}>
      {c.active ? (
        <button type="button" onClick={() => run((a) => a.session.endConsultation())}>
          {t('consult.end')}
        </button>
      ) : c.invitation?.direction === 'invited' ? (
        <>
          <span role="status">{t('consult.asks', { name: c.invitation.name })}</span>
          <button type="button" onClick={() => run((a) => a.session.answer(true))}>
            {t('consult.accept', { name: c.invitation.name })}
          </button>
          <button type="button" onClick={() => run((a) => a.session.answer(false))}>
            {t('consult.decline', { name: c.invitation.name })}
          </button>
        </>
      ) : c.invitation ? (
        <button type="button" onClick={() => run((a) => a.session.endConsultation())}>
          {t('consult.withdraw', { name: c.invitation.name })}
        </button>
      ) : (
        c.options.map((o) => (
          <button type="button" key={o.participantId} onClick={() => run((a) => a.session.startConsultation(o.participantId))}>
            {t('consult.ask', { name: o.name })}
          </button>
        ))
      )}
    </section>
  );
}
