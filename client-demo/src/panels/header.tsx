import { t, setLanguage, i18n } from '../i18n.ts';
import { update, useApp } from '../store.ts';

/** Title, case number, the hearing's state by its name, the connection status and the language. */
export function Header() {
  const s = useApp();
  const other = i18n.language === 'en' ? 'zh-CN' : 'en';
  return (
    <header class="top">
      <h1>{s.title || t('app.title')}</h1>
      {s.caseNumber && <span class="case">{s.caseNumber}</span>}
      {s.hearingState !== 'unknown' && (
        <span class="badge" data-state={s.hearingState}>
          {t(`state.${s.hearingState}`)}
        </span>
      )}
      <span class="status" role="status">
        {t(s.status.key, s.status.params)}
      </span>
      <button
        type="button"
        class="lang"
        lang={other}
        title={t('app.languageName')}
        onClick={() => {
          setLanguage(other);
          update({ lang: other });
        }}
      >
        {t('app.language')}
      </button>
    </header>
  );
}

/**
 * A visible banner while the connection is lost (media comes back without a reload), or saying why the
 * server refused this page.
 */
export function ReconnectBanner() {
  const s = useApp();
  if (s.refused)
    return (
      <div class="banner" role="alert">
        {t(s.refused)}
      </div>
    );
  if (!s.reconnecting && !s.mediaInterrupted) return null;
  return (
    <div class="banner" role="alert">
      {t(s.reconnecting ? 'status.reconnecting' : 'status.mediaInterrupted')}
    </div>
  );
}
