import { useEffect, useRef, useState } from 'preact/hooks';
import SignaturePad from 'signature_pad';
import { t } from '../i18n.ts';
import { run } from '../actions.ts';
import { setStatus } from '../ui.ts';
import { useApp } from '../store.ts';

const EDITORS = new Set(['judge', 'clerk']);
const SIGNERS = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter']);

/** The drawn signature and its submission (signed on this device with its own key, the drawing attached). */
function SignHere({ version }: { version: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const pad = useRef<SignaturePad | null>(null);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    const c = canvas.current!;
    // Drawn at the screen's pixel density, so the stroke stays sharp on a phone.
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    c.width = c.offsetWidth * ratio;
    c.height = c.offsetHeight * ratio;
    c.getContext('2d')!.scale(ratio, ratio);
    pad.current = new SignaturePad(c, { backgroundColor: 'rgb(255,255,255)', penColor: 'rgb(0,0,0)' });
    return () => pad.current?.off();
  }, []);
  return (
    <div class="sign">
      <canvas ref={canvas} class="pad" role="img" aria-label={t('signing.pad')} />
      <div class="row">
        <button type="button" onClick={() => pad.current?.clear()}>
          {t('signing.clear')}
        </button>
        <button
          type="button"
          class="primary"
          onClick={() => {
            if (!pad.current || pad.current.isEmpty()) return setNote(t('signing.empty'));
            setNote(null);
            const image = pad.current.toDataURL('image/png');
            run(async (a) => {
              const result = await a.session.signTranscript(image);
              setStatus(result.valid ? 'status.signed' : 'status.failed', { error: result.reason ?? '' });
            });
          }}
        >
          {t('signing.submit')}
        </button>
      </div>
      {note && <p role="alert">{note}</p>}
      <p class="version">{t('signing.frozen', { version })}</p>
    </div>
  );
}

/** The clerk (or judge) freezes the transcript; each participant signs that version; who signed, shown. */
export function SigningPanel() {
  const s = useApp();
  const role = s.self?.role ?? '';
  if (!SIGNERS.has(role)) return null;
  const mine = s.signatures.some((x) => x.participantId === s.self?.participantId && x.version === s.frozen?.version);
  const current = s.signatures.filter((x) => x.version === s.frozen?.version);
  if (!s.frozen && !EDITORS.has(role)) return null;
  return (
    <section class="signing" aria-labelledby="signing-heading">
      <h2 id="signing-heading">{t('signing.label')}</h2>
      {EDITORS.has(role) && s.lines.length > 0 && (
        <button type="button" onClick={() => run((a) => a.signaling.request('freezeTranscript', {}))}>
          {t('signing.freeze')}
        </button>
      )}
      {s.frozen && !mine && <SignHere key={s.frozen.version} version={s.frozen.version} />}
      {current.length > 0 && (
        <ul>
          {current.map((x) => (
            <li key={`${x.participantId}-${x.version}`}>
              {t('signing.signed', { who: s.people[x.participantId]?.name ?? '', version: x.version })} ·{' '}
              {t(x.valid ? 'signing.valid' : 'signing.invalid')}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
