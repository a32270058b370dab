// The embedding SDK for court platforms: `mountHearing(element, {token, lang, onEvent})` puts the
// hearing's join page into the platform's page (an iframe from this server), hands it the participant's
// token by postMessage (so the token is in no address, history or Referer) and passes the hearing's
// events back: joined, stateChanged, identity, transcript, left, error.
//
//   <script type="module">
//     import { mountHearing } from 'https://media.court.example/client/hearing-sdk.js';
//     mountHearing(document.getElementById('hearing'), { token, lang: 'zh-CN', onEvent: (e) => console.log(e.type, e.data) });
//   </script>
//
// The server must allow the platform's origin to frame it: HEARING_FRAME_ANCESTORS.

export interface HearingEvent {
  type: 'joined' | 'stateChanged' | 'identity' | 'transcript' | 'left' | 'error';
  data: Record<string, unknown>;
}

export interface MountOptions {
  /** The participant's token (from the court platform's server: POST /participants or /token). */
  token: string;
  lang?: 'zh-CN' | 'en';
  /** The media server (default: where this SDK was loaded from). */
  server?: string;
  onEvent?: (event: HearingEvent) => void;
}

export interface MountedHearing {
  iframe: HTMLIFrameElement;
  /** Removes the hearing from the page (the participant leaves). */
  destroy(): void;
}

const TYPES = new Set(['joined', 'stateChanged', 'identity', 'transcript', 'left', 'error']);

export function mountHearing(element: HTMLElement, o: MountOptions): MountedHearing {
  const origin = new URL(o.server ?? import.meta.url).origin;
  const iframe = document.createElement('iframe');
  iframe.src = `${origin}/join${o.lang === 'en' ? '?lang=en' : ''}`;
  iframe.allow = 'camera; microphone; autoplay; fullscreen; display-capture';
  iframe.title = o.lang === 'en' ? 'Online hearing' : '在线庭审';
  iframe.style.cssText = 'width:100%;height:100%;border:0;';
  const onMessage = (e: MessageEvent): void => {
    const m = e.data as { source?: unknown; type?: unknown; data?: unknown } | null;
    // Only the hearing page this call made, from the media server's origin.
    if (e.source !== iframe.contentWindow || e.origin !== origin || m?.source !== 'hearing' || typeof m.type !== 'string') return;
    if (m.type === 'ready') iframe.contentWindow!.postMessage({ source: 'hearing-host', type: 'token', token: o.token }, origin);
    else if (TYPES.has(m.type)) o.onEvent?.({ type: m.type as HearingEvent['type'], data: (m.data ?? {}) as Record<string, unknown> });
  };
  window.addEventListener('message', onMessage);
  element.append(iframe);
  return {
    iframe,
    destroy() {
      window.removeEventListener('message', onMessage);
      iframe.remove();
    },
  };
}
