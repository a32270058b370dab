// The join page inside a court platform's page (an iframe made by the SDK's `mountHearing`): the token
// comes from the platform's page by postMessage (never in an address), and what happens in the hearing
// goes back to that page — and only to the origin that sent the token.

/** This page is framed by another. */
export const embedded = window.parent !== window;

let hostOrigin: string | null = null;

/** Asks the embedding page for the participant's token (`ready`) and waits for it. */
export function tokenFromHost(): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (e: MessageEvent): void => {
      const m = e.data as { source?: unknown; type?: unknown; token?: unknown } | null;
      if (e.source !== window.parent || m?.source !== 'hearing-host' || m.type !== 'token' || typeof m.token !== 'string') return;
      if (m.token.length === 0 || m.token.length > 4096) return;
      hostOrigin = e.origin;
      window.removeEventListener('message', onMessage);
      resolve(m.token);
    };
    window.addEventListener('message', onMessage);
    // Nothing secret in `ready`: any page may learn that the join page has loaded.
    window.parent.postMessage({ source: 'hearing', type: 'ready' }, '*');
  });
}

/** Tells the embedding page (joined, stateChanged, identity, transcript, left, error). */
export function tellHost(type: string, data: Record<string, unknown>): void {
  if (embedded && hostOrigin) window.parent.postMessage({ source: 'hearing', type, data }, hostOrigin);
}
