import fs from 'node:fs';
import type { TFunction } from 'i18next';
import type { AnnotationRow, AuditRow, EvidenceRow, HearingRow, ParticipantRow, TranscriptRow } from '../store/store.ts';
import type { SignatureStatus } from './signing.ts';

export interface TranscriptDocument {
  hearing: HearingRow;
  participants: ParticipantRow[];
  segments: TranscriptRow[];
  annotations: AnnotationRow[];
  evidence: EvidenceRow[];
  /** State changes (phases) from the hearing's log. */
  phases: AuditRow[];
  digest: string;
  signatures: SignatureStatus[];
  signatureImage: (signatureId: string) => string;
  evidenceFile: (id: string, thumb: boolean) => string;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** hh:mm:ss.mmm from milliseconds. */
function vttTime(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(t % 1000).padStart(3, '0')}`;
}

/**
 * WebVTT captions, times relative to the first segment (or `origin`); the voice is the speaker's
 * name and role, or only the role when the court does not show names.
 */
export function toVtt(segments: TranscriptRow[], options: { speaker: 'name' | 'role'; origin?: number }): string {
  const origin = options.origin ?? (segments[0] ? Date.parse(segments[0].start) : 0);
  const cues = segments.map((s, i) => {
    const voice = options.speaker === 'role' ? s.role : `${s.speakerName} (${s.role})`;
    return `${i + 1}\n${vttTime(Date.parse(s.start) - origin)} --> ${vttTime(Date.parse(s.end) - origin)}\n<v ${voice.replace(/[<>]/g, '')}>${s.text.replace(/-->/g, '→').replace(/[<>]/g, '')}`;
  });
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/** The printable transcript (笔录) as one self-contained HTML page (photos embedded), in `t`'s language. */
export function toHtml(doc: TranscriptDocument, t: TFunction, lang: string): string {
  const time = (iso: string): string => iso.slice(11, 19);
  const role = (r: string): string => t(`role.${r}`);
  const person = (name: string, r: string): string => t('html.person', { name, role: role(r) });
  const names = new Map(doc.participants.map((p) => [p.id, person(p.name, p.role)]));
  type Item = { at: string; html: string };
  const items: Item[] = [];
  for (const phase of doc.phases) {
    items.push({
      at: phase.at,
      html: `<tr class="phase"><td>${time(phase.at)}</td><td colspan="2">${escapeHtml(t('html.phase', { state: t(`state.${String(phase.detail.to)}`) }))}</td></tr>`,
    });
  }
  for (const s of doc.segments) {
    const notes = doc.annotations
      .filter((a) => a.segmentId === s.id)
      .map((a) => `<div class="note">${escapeHtml(t('html.note', { who: names.get(a.author) ?? a.author, text: a.text }))}</div>`)
      .join('');
    const edited = s.status === 'edited' ? ` <span class="edited">${escapeHtml(t('html.edited', { version: s.version }))}</span>` : '';
    items.push({
      at: s.start,
      html: `<tr><td>${time(s.start)}</td><td>${escapeHtml(person(s.speakerName, s.role))}</td><td>${escapeHtml(s.text)}${edited}${notes}</td></tr>`,
    });
    for (const e of doc.evidence.filter((x) => x.afterSegmentId === s.id)) {
      const data = fs.readFileSync(doc.evidenceFile(e.id, true)).toString('base64');
      items.push({
        at: s.start,
        html: `<tr class="evidence"><td></td><td>${escapeHtml(t('html.evidence'))}</td><td><img alt="${escapeHtml(t('html.evidence'))} ${e.id}" src="data:image/jpeg;base64,${data}"><div>${escapeHtml(e.originalName)}, SHA-256 ${e.sha256}</div></td></tr>`,
      });
    }
  }
  items.sort((a, b) => a.at.localeCompare(b.at));
  const signatures = doc.signatures.length
    ? `<table class="signatures">${doc.signatures
        .map(
          (s) =>
            `<tr><td>${escapeHtml(names.get(s.participantId) ?? s.participantId)}</td><td>${escapeHtml(t('html.version', { version: s.version, at: s.signedAt.slice(0, 19).replace('T', ' ') }))}</td><td class="${s.valid ? 'valid' : 'invalid'}">${escapeHtml(s.valid ? t('html.valid') : t('html.invalid', { reason: s.problem ? t(`html.problems.${s.problem}`) : '' }))}</td><td>${s.imageSha256 ? `<img class="drawn" alt="${escapeHtml(t('html.drawn'))}" src="data:image/png;base64,${fs.readFileSync(doc.signatureImage(s.id)).toString('base64')}">` : ''}</td></tr>`,
        )
        .join('')}</table>`
    : `<p class="signatures">${escapeHtml(t('html.noSignatures'))}</p>`;
  const people = doc.participants.map((p) => `<li>${escapeHtml(p.name)}: ${escapeHtml(role(p.role))}</li>`).join('');
  return `<!doctype html>
<html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><title>${escapeHtml(t('html.title'))} ${escapeHtml(doc.hearing.caseNumber)}</title>
<style>body{font:14px/1.5 "Noto Serif CJK SC","Source Han Serif SC","SimSun","WenQuanYi Zen Hei",serif;margin:2cm}table{border-collapse:collapse;width:100%}td{vertical-align:top;padding:2px 6px;border-bottom:1px solid #ddd}
tr.phase td{font-weight:bold;background:#f4f4f4}.note{font-size:12px;color:#555}.edited{font-size:11px;color:#a60}.valid{color:#060;font-weight:bold}img.drawn{max-height:60px}.invalid{color:#b00;font-weight:bold}img{max-width:320px}</style></head>
<body><h1>${escapeHtml(t('html.title'))}</h1>
<p>${escapeHtml(t('html.case'))} ${escapeHtml(doc.hearing.caseNumber)}: ${escapeHtml(doc.hearing.title)}<br>${escapeHtml(t('html.state'))}: ${escapeHtml(t(`state.${doc.hearing.state}`))}</p>
<h2>${escapeHtml(t('html.participants'))}</h2><ul>${people}</ul>
<h2>${escapeHtml(t('html.transcript'))}</h2><table>${items.map((i) => i.html).join('\n')}</table>
<h2>${escapeHtml(t('html.signatures'))}</h2><p>${escapeHtml(t('html.digest'))}: <code>${doc.digest}</code></p>${signatures}
</body></html>
`;
}
