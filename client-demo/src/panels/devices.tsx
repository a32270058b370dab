import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n.ts';
import { actions } from '../actions.ts';
import { CAMERA } from '../session.ts';

type Problem = { key: 'devices.denied' | 'devices.missing' | 'devices.otherError' | 'devices.insecure'; error?: string };

/** Browsers give the camera and microphone only to a secure page (HTTPS, or this machine itself). */
const insecure = (): boolean => !window.isSecureContext || !navigator.mediaDevices;

const problemOf = (error: Error): Problem =>
  error.name === 'NotAllowedError' || error.name === 'SecurityError'
    ? { key: 'devices.denied' }
    : error.name === 'NotFoundError' || error.name === 'OverconstrainedError'
      ? { key: 'devices.missing' }
      : { key: 'devices.otherError', error: error.message };

/**
 * Before joining: choose the camera and the microphone, see the preview and the microphone's level;
 * a blocked or missing device is explained, with a retry.
 */
export function DeviceCheck() {
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [choice, setChoice] = useState<{ camera?: string; mic?: string }>({});
  const [attempt, setAttempt] = useState(0);
  const [level, setLevel] = useState(0);
  const video = useRef<HTMLVideoElement>(null);
  const handedOver = useRef(false);

  useEffect(() => {
    let live: MediaStream | null = null;
    let cancelled = false;
    if (insecure()) {
      setProblem({ key: 'devices.insecure' });
      return;
    }
    navigator.mediaDevices
      .getUserMedia({
        audio: choice.mic ? { deviceId: { exact: choice.mic } } : true,
        video: { ...CAMERA, ...(choice.camera ? { deviceId: { exact: choice.camera } } : {}) },
      })
      .then(async (s) => {
        if (cancelled) return s.getTracks().forEach((tr) => tr.stop());
        live = s;
        setProblem(null);
        setStream(s);
        setDevices(await navigator.mediaDevices.enumerateDevices());
      })
      .catch((error: Error) => !cancelled && setProblem(problemOf(error)));
    return () => {
      cancelled = true;
      if (live && !handedOver.current) live.getTracks().forEach((tr) => tr.stop());
    };
  }, [choice.camera, choice.mic, attempt]);

  useEffect(() => {
    if (video.current) video.current.srcObject = stream;
    if (!stream || !stream.getAudioTracks().length) return;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      setLevel(Math.min(1, Math.sqrt(sum / samples.length) * 4));
    }, 100);
    return () => {
      clearInterval(timer);
      void context.close();
    };
  }, [stream]);

  const current = (kind: 'audio' | 'video') =>
    (kind === 'video' ? stream?.getVideoTracks() : stream?.getAudioTracks())?.[0]?.getSettings().deviceId ?? '';
  const select = (kind: 'videoinput' | 'audioinput', label: string, value: string, set: (id: string) => void) => (
    <label class="field">
      <span>{label}</span>
      <select value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        {devices
          .filter((d) => d.kind === kind)
          .map((d, i) => (
            <option key={d.deviceId} value={d.deviceId}>
              {d.label || `${label} ${i + 1}`}
            </option>
          ))}
      </select>
    </label>
  );

  return (
    <section class="devices" aria-labelledby="devices-heading">
      <h2 id="devices-heading">{t('devices.heading')}</h2>
      <p>{t('devices.intro')}</p>
      {problem ? (
        <div class="problem" role="alert">
          <p>{t(problem.key, { error: problem.error, origin: location.origin })}</p>
          {problem.key !== 'devices.insecure' && (
            <button type="button" onClick={() => setAttempt((n) => n + 1)}>
              {t('devices.retry')}
            </button>
          )}
        </div>
      ) : (
        <>
          <video ref={video} class="preview" autoplay playsInline muted aria-label={t('devices.preview')} />
          {select('videoinput', t('devices.camera'), current('video'), (id) => setChoice((c) => ({ ...c, camera: id })))}
          {select('audioinput', t('devices.microphone'), current('audio'), (id) => setChoice((c) => ({ ...c, mic: id })))}
          <label class="field">
            <span>{t('devices.level')}</span>
            <meter min={0} max={1} value={level} aria-label={t('devices.level')} />
          </label>
          <button
            type="button"
            class="primary"
            disabled={!stream}
            onClick={() => {
              handedOver.current = true;
              actions().join(stream);
            }}
          >
            {t('devices.join')}
          </button>
        </>
      )}
    </section>
  );
}
