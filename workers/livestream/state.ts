/**
 * A hearing's public stream: `idle` until it first starts, then `live` ⇄ `paused`, and finally `ended`
 * (stopped, the held-back segments still go out) or `cut` (nothing more goes out). The server's
 * stream policy and the publisher's status.json use this one definition.
 */
export type StreamState = 'idle' | 'live' | 'paused' | 'ended' | 'cut';

/** The states a publisher can be in (it exists only once the stream started). */
export type PublishedState = Exclude<StreamState, 'idle'>;
