// Text the server renders for people to read (the public program's labels and slates, captions'
// speakers): a message catalogue per language (i18next), Chinese first.
import { createRequire } from 'node:module';
import i18next, { type TFunction } from 'i18next';

export const LANGUAGES = ['zh-CN', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

const require = createRequire(import.meta.url);
/** The catalogues, one JSON file per language beside this one. */
export const CATALOGUES: Record<Language, Record<string, Record<string, string>>> = {
  'zh-CN': require('./zh-CN.json') as Record<string, Record<string, string>>,
  en: require('./en.json') as Record<string, Record<string, string>>,
};

const instance = i18next.createInstance();
void instance.init({
  initAsync: false,
  resources: Object.fromEntries(LANGUAGES.map((l) => [l, { translation: CATALOGUES[l] }])),
  lng: 'zh-CN',
  fallbackLng: false,
  interpolation: { escapeValue: false },
  returnNull: false,
});

/** The catalogue's translator for one language. */
export function translator(lang: Language): TFunction {
  return instance.getFixedT(lang);
}
