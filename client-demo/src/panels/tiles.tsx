import { useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.ts';
import { useApp, type Tile } from '../store.ts';

const ROLES = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer']);

function TileView({ tile, speaking }: { tile: Tile; speaking: boolean }) {
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
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
      {!tile.self && <audio ref={audio} autoplay />}
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
        <TileView key={tile.participantId} tile={tile} speaking={s.speaker === tile.participantId} />
      ))}
    </section>
  );
}
