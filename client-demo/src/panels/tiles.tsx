import { useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.ts';
import { update, useApp, type Tile } from '../store.ts';

const ROLES = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer', 'courtroom']);

/** How loud the floor stays under the interpretation (the listener still hears who speaks). */
const FLOOR_UNDER_INTERPRETATION = 0.2;

function TileView({ tile, speaking, interpreter, listen }: { tile: Tile; speaking: boolean; interpreter: boolean; listen: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const el = audio.current;
    if (!el) return;
    // The interpretation is heard only when chosen; then the original is turned down, not off.
    el.muted = interpreter && listen !== 'interpretation';
    el.volume = !interpreter && listen === 'interpretation' ? FLOOR_UNDER_INTERPRETATION : 1;
  }, [interpreter, listen, tile.audio]);
  useEffect(() => {
    if (video.current) video.current.srcObject = tile.video ? new MediaStream([tile.video]) : null;
  }, [tile.video]);
  useEffect(() => {
    if (audio.current) audio.current.srcObject = tile.audio.length ? new MediaStream(tile.audio) : null;
  }, [tile.audio]);
  const role = ROLES.has(tile.role) ? t(`role.${tile.role}`) : t('consult.tile');
  const label = t('tiles.participant', { name: tile.name, role });
  return (
    <figure id={`tile-${tile.participantId}`} class={`tile${tile.self ? ' self' : ''}${speaking ? ' speaking' : ''}`} aria-label={label}>
      <video ref={video} autoplay playsInline muted />
      {!tile.self && <audio ref={audio} autoplay data-channel={interpreter ? 'interpretation' : 'original'} />}
      <figcaption class="label">{label}</figcaption>
      {speaking && <span class="visually-hidden">{t('tiles.speaking')}</span>}
    </figure>
  );
}

/** One tile per participant with media: the speaker outlined (and named for screen readers). */
export function Tiles() {
  const s = useApp();
  return (
    <section class="tiles" aria-label={t('tiles.label')}>
      {s.tiles.map((tile) => (
        <TileView
          key={tile.participantId}
          tile={tile}
          speaking={s.speaker === tile.participantId}
          interpreter={s.interpreters.includes(tile.participantId)}
          listen={s.listen}
        />
      ))}
    </section>
  );
}

/** With an interpreter in the hearing, every listener chooses the original or the interpretation. */
export function Listening() {
  const s = useApp();
  if (!s.interpreters.length || s.interpreters.includes(s.self?.participantId ?? '')) return null;
  const on = s.listen === 'interpretation';
  return (
    <div class="listening">
      <button
        type="button"
        aria-pressed={on}
        class={on ? '' : 'off'}
        onClick={() => update({ listen: on ? 'original' : 'interpretation' })}
      >
        {t('tiles.listenInterpretation')}
      </button>
      {on && <span class="notice">{t('tiles.listeningInterpretation')}</span>}
    </div>
  );
}
