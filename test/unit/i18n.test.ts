import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOGUES, LANGUAGES, translator } from '../../server/i18n/i18n.ts';
import { ROLES } from '../../server/hearing/roles.ts';
import { HEARING_STATES } from '../../server/hearing/state.ts';

const keys = (o: Record<string, Record<string, string>>): string[] =>
  Object.entries(o)
    .flatMap(([group, entries]) => Object.keys(entries).map((k) => `${group}.${k}`))
    .sort();

describe('the server’s message catalogue', () => {
  it('has every message in every language, and a name for every role and state', () => {
    expect(keys(CATALOGUES.en)).toEqual(keys(CATALOGUES['zh-CN']));
    for (const lang of LANGUAGES) {
      const t = translator(lang);
      for (const key of [...ROLES.map((r) => `role.${r}`), ...HEARING_STATES.map((s) => `state.${s}`)]) {
        const text = t(key);
        expect(text, `${lang} ${key}`).not.toBe(key);
        expect(text.length, `${lang} ${key}`).toBeGreaterThan(0);
      }
    }
  });

  it('speaks Chinese first: the court’s own names for roles and phases', () => {
    const zh = translator('zh-CN');
    expect([zh('role.judge'), zh('role.clerk'), zh('role.party'), zh('role.lawyer')]).toEqual(['审判员', '书记员', '当事人', '律师']);
    expect(['open', 'investigation', 'debate', 'final_statement', 'adjourned', 'closed'].map((s) => zh(`state.${s}`))).toEqual([
      '开庭',
      '法庭调查',
      '法庭辩论',
      '最后陈述',
      '休庭',
      '闭庭',
    ]);
    expect(zh('program.soundOnly', { label: '当事人' })).toBe('当事人（仅声音）');
    expect(translator('en')('program.soundOnly', { label: 'party' })).toBe('party (sound only)');
  });
});

describe('the app’s message catalogue', () => {
  const read = (lang: string) => JSON.parse(fs.readFileSync(new URL(`../../client-demo/src/i18n/${lang}.json`, import.meta.url), 'utf8'));
  /** Every leaf key, with the {{placeholders}} its text uses. */
  const leaves = (o: Record<string, unknown>, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) =>
      typeof v === 'string'
        ? [
            `${prefix}${k} ${[...v.matchAll(/\{\{(\w+)\}\}/g)]
              .map((m) => m[1])
              .sort()
              .join(',')}`,
          ]
        : leaves(v as Record<string, unknown>, `${prefix}${k}.`),
    );

  it('has every message in both languages, with the same placeholders, and none empty', () => {
    const [zh, en] = [read('zh-CN'), read('en')];
    expect(leaves(en).sort()).toEqual(leaves(zh).sort());
    expect(leaves(zh).length).toBeGreaterThan(50);
    for (const text of JSON.stringify([zh, en]).match(/"[^"]*"/g)!) expect(text).not.toBe('""');
    // Chinese first: the words a party sees on the way in.
    expect([zh.devices.join, zh.controls.mic, zh.controls.camera, zh.transcript.label]).toEqual(['进入庭审', '麦克风', '摄像头', '笔录']);
  });
});
