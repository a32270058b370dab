import { t } from '../i18n.ts';
import { useApp } from '../store.ts';

const COURT = new Set(['judge', 'clerk']);

/**
 * Before the hearing opens, everybody but the court sees where they are and what happens next; a
 * witness waits apart until the judge calls them in (and again after being sent back).
 */
export function Waiting() {
  const s = useApp();
  if (s.waitingApart)
    return (
      <section class="waiting" aria-labelledby="waiting-heading">
        <h2 id="waiting-heading">{t('waiting.witnessHeading')}</h2>
        {s.waitingApart === 'sentBack' && <p role="status">{t('waiting.sentBack')}</p>}
        <p>{t('waiting.witnessText')}</p>
      </section>
    );
  if (!s.self || COURT.has(s.self.role) || (s.hearingState !== 'scheduled' && s.hearingState !== 'waiting_room')) return null;
  return (
    <section class="waiting" aria-labelledby="waiting-heading">
      <h2 id="waiting-heading">{t('waiting.heading')}</h2>
      <p>{t('waiting.text')}</p>
    </section>
  );
}
