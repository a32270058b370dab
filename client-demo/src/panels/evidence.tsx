import { useEffect, useState } from 'preact/hooks';
import { t } from '../i18n.ts';
import { actions, run } from '../actions.ts';
import { getState, useApp, type Evidence } from '../store.ts';

const MAY_SEE = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter']);
const EDITORS = new Set(['judge', 'clerk']);

/** The thumbnail, fetched with the participant's token (the route is not public). */
export function Thumb({ item, who }: { item: Evidence; who: string }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    let made: string | undefined;
    const { token } = actions();
    void fetch(`/api/v1/hearings/${getState().hearingId}/evidence/${item.id}?thumb=1`, { headers: { authorization: `Bearer ${token}` } })
      .then((r) => (r.ok ? r.blob() : undefined))
      .then((blob) => blob && setUrl((made = URL.createObjectURL(blob))));
    return () => made && URL.revokeObjectURL(made);
  }, [item.id]);
  return url ? <img src={url} alt={t('evidence.thumb', { who })} /> : null;
}

/** Sends a photo as evidence (XMLHttpRequest: fetch has no upload progress); the refusal's reason shown. */
function upload(file: File, onProgress: (share: number) => void): Promise<void> {
  const { token } = actions();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/hearings/${getState().hearingId}/evidence`);
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status === 201) return resolve();
      let reason = `HTTP ${xhr.status}`;
      try {
        reason = (JSON.parse(xhr.responseText) as { error: { message: string } }).error.message;
      } catch {
        // not JSON: the status says enough
      }
      reject(new Error(reason));
    };
    xhr.onerror = () => reject(new Error('network error'));
    const form = new FormData();
    form.append('photo', file);
    xhr.send(form);
  });
}

/**
 * Evidence photos: taken with the phone's camera or chosen from a file, with progress and the reason
 * when refused; the list with thumbnails; the judge and the clerk place one into the transcript.
 */
export function EvidencePanel() {
  const s = useApp();
  const [progress, setProgress] = useState<number | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  if (!s.self || !MAY_SEE.has(s.self.role)) return null;
  const lastLine = s.lines.at(-1);
  const name = (pid: string) => (pid === 'api' ? t('app.title') : (s.people[pid]?.name ?? ''));
  const choose = (e: Event) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    setResult(null);
    setProgress(0);
    upload(file, setProgress).then(
      () => {
        setProgress(null);
        setResult({ ok: true, text: t('evidence.uploaded') });
      },
      (error: Error) => {
        setProgress(null);
        setResult({ ok: false, text: t('evidence.refused', { reason: error.message }) });
      },
    );
  };
  return (
    <section class="evidence" aria-labelledby="evidence-heading">
      <h2 id="evidence-heading">{t('evidence.label')}</h2>
      {/* The browser's own file button speaks the browser's language: the label is the button instead. */}
      <label class="upload">
        <input type="file" class="visually-hidden" accept="image/*" capture="environment" disabled={progress !== null} onChange={choose} />
        <span class="button">{t('evidence.upload')}</span>
      </label>
      {progress !== null && <progress max={1} value={progress} aria-label={t('evidence.uploading')} />}
      {result && (
        <p role={result.ok ? 'status' : 'alert'} class={result.ok ? 'ok' : 'problem'}>
          {result.text}
        </p>
      )}
      {s.evidence.length === 0 ? (
        <p class="empty">{t('evidence.empty')}</p>
      ) : (
        <ul>
          {s.evidence.map((item) => (
            <li key={item.id}>
              <Thumb item={item} who={name(item.uploadedBy)} />
              <span>{t('evidence.item', { who: name(item.uploadedBy), width: item.width, height: item.height })}</span>
              {item.afterSegmentId ? (
                <span class="placed">{t('evidence.placed')}</span>
              ) : (
                EDITORS.has(s.self!.role) &&
                lastLine && (
                  <button
                    type="button"
                    onClick={() => run((a) => a.signaling.request('placeEvidence', { evidenceId: item.id, afterSegmentId: lastLine.id }))}
                  >
                    {t('evidence.place', { who: name(item.uploadedBy) })}
                  </button>
                )
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
