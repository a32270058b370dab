import { t } from '../i18n.ts';
import { run } from '../actions.ts';
import { update, useApp } from '../store.ts';

const PUBLISHING = new Set(['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness']);

/** Microphone and camera on/off (toggle buttons) and, with more than one camera, the camera switch. */
export function MediaControls() {
  const s = useApp();
  if (!s.self || !PUBLISHING.has(s.self.role) || s.waitingApart) return null;
  const mutedByCourt = s.courtMuted.includes(s.self.participantId);
  const toggle = (kind: 'audio' | 'video') => {
    const on = kind === 'audio' ? !s.micOn : !s.cameraOn;
    update(kind === 'audio' ? { micOn: on } : { cameraOn: on });
    run((a) => a.session.setSending(kind, on));
  };
  return (
    <nav class="controls" aria-label={t('controls.label')}>
      <button type="button" aria-pressed={s.micOn} class={s.micOn ? '' : 'off'} disabled={mutedByCourt} onClick={() => toggle('audio')}>
        {t('controls.mic')}
      </button>
      <button type="button" aria-pressed={s.cameraOn} class={s.cameraOn ? '' : 'off'} onClick={() => toggle('video')}>
        {t('controls.camera')}
      </button>
      {s.cameras > 1 && (
        <button type="button" onClick={() => run((a) => a.session.nextCamera())}>
          {t('controls.switchCamera')}
        </button>
      )}
      {mutedByCourt && (
        <p role="status" class="notice">
          {t('controls.mutedByCourt')}
        </p>
      )}
    </nav>
  );
}
