// The app's words (i18next): Chinese first, English selectable with ?lang=en or the language button.
// Role and phase names come from the server's catalogue, so the app and the 笔录 use the same ones.
import i18next from 'i18next';
import zhApp from './i18n/zh-CN.json' with { type: 'json' };
import enApp from './i18n/en.json' with { type: 'json' };
import zhServer from '../../server/i18n/zh-CN.json' with { type: 'json' };
import enServer from '../../server/i18n/en.json' with { type: 'json' };

export const LANGUAGES = ['zh-CN', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

const chosen = (): Language => {
  const asked = new URLSearchParams(location.search).get('lang') ?? sessionStorage.getItem('hearingLang');
  return asked === 'en' ? 'en' : 'zh-CN';
};

export const i18n = i18next.createInstance();
void i18n.init({
  initAsync: false,
  resources: {
    'zh-CN': { translation: { ...zhApp, role: zhServer.role, state: zhServer.state } },
    en: { translation: { ...enApp, role: enServer.role, state: enServer.state } },
  },
  lng: chosen(),
  fallbackLng: false,
  interpolation: { escapeValue: false }, // preact escapes
  returnNull: false,
});
document.documentElement.lang = i18n.language;

export const t = (key: string, params?: Record<string, unknown>): string => i18n.t(key, params ?? {});

export function setLanguage(lang: Language): void {
  sessionStorage.setItem('hearingLang', lang);
  void i18n.changeLanguage(lang);
  document.documentElement.lang = lang;
}

/** A time of day in the page's language, on the 24-hour clock courts write in the record (20:48:01). */
export const clock = (iso: string): string => new Date(iso).toLocaleTimeString(i18n.language, { hour12: false });
