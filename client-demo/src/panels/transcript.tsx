import { useState } from 'preact/hooks';
import { clock, t } from '../i18n.ts';
import { run } from '../actions.ts';
import { useApp, type Line } from '../store.ts';
import { Thumb } from './evidence.tsx';

const EDITORS = new Set(['judge', 'clerk']);
const ANNOTATORS = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter']);

function LineView({ line, canEdit, canAnnotate }: { line: Line; canEdit: boolean; canAnnotate: boolean }) {
  const s = useApp();
  const [mode, setMode] = useState<'read' | 'edit' | 'note'>('read');
  const [text, setText] = useState('');
  const speaker = `${line.speakerName}（${t(`role.${line.role}`)}）`;
  const notes = s.notes.filter((n) => n.segmentId === line.id);
  const submit = (e: Event) => {
    e.preventDefault();
    const value = text.trim();
    if (!value) return;
    run(async (a) => {
      if (mode === 'edit') await a.signaling.request('editTranscript', { segmentId: line.id, text: value });
      else await a.signaling.request('annotateTranscript', { segmentId: line.id, text: value });
      setMode('read');
    });
  };
  return (
    <li data-segment={line.id}>
      <span class="when">{clock(line.start)}</span> <strong>{speaker}</strong>
      <span class="text">{line.text}</span>
      {line.version > 1 && <span class="edited">{t('transcript.edited', { version: line.version })}</span>}
      {s.evidence
        .filter((e) => e.afterSegmentId === line.id)
        .map((e) => (
          <figure class="placed-evidence" key={e.id}>
            <Thumb item={e} who={s.people[e.uploadedBy]?.name ?? ''} />
            <figcaption>{t('evidence.item', { who: s.people[e.uploadedBy]?.name ?? '', width: e.width, height: e.height })}</figcaption>
          </figure>
        ))}
      {notes.map((n) => (
        <p class="note" key={n.id}>
          {t('transcript.noteBy', { who: s.people[n.author]?.name ?? '', text: n.text })}
        </p>
      ))}
      {mode === 'read' ? (
        <span class="line-actions">
          {canEdit && (
            <button
              type="button"
              onClick={() => {
                setText(line.text);
                setMode('edit');
              }}
            >
              {t('transcript.edit', { speaker })}
            </button>
          )}
          {canAnnotate && (
            <button
              type="button"
              onClick={() => {
                setText('');
                setMode('note');
              }}
            >
              {t('transcript.annotate', { speaker })}
            </button>
          )}
        </span>
      ) : (
        <form onSubmit={submit}>
          <label>
            <span>{t(mode === 'edit' ? 'transcript.text' : 'transcript.note')}</span>
            <textarea
              value={text}
              maxLength={mode === 'edit' ? 5000 : 2000}
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            />
          </label>
          <button type="submit">{t(mode === 'edit' ? 'transcript.save' : 'transcript.addNote')}</button>
          <button type="button" onClick={() => setMode('read')}>
            {t('transcript.cancel')}
          </button>
        </form>
      )}
    </li>
  );
}

/** The live transcript: a log landmark named 笔录, lines as they are recognized, edits and notes. */
export function Transcript() {
  const s = useApp();
  const role = s.self?.role ?? '';
  const speaking = Object.entries(s.partials).filter(([, text]) => text);
  return (
    <section class="transcript" role="log" aria-label={t('transcript.label')} aria-live="polite">
      <h2>{t('transcript.label')}</h2>
      {s.lines.length === 0 && speaking.length === 0 && <p class="empty">{t('transcript.empty')}</p>}
      <ol>
        {s.lines.map((line) => (
          <LineView key={line.id} line={line} canEdit={EDITORS.has(role)} canAnnotate={ANNOTATORS.has(role)} />
        ))}
      </ol>
      {speaking.map(([pid, text]) => (
        <p class="partial" key={pid}>
          <strong>{s.people[pid]?.name ?? ''}</strong> {text} {t('transcript.speaking')}
        </p>
      ))}
    </section>
  );
}
