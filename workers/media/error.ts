/** An expected refusal from the media plane, with a stable code the signaling layer passes on. */
export class MediaError extends Error {
  constructor(
    readonly code: 'not_found' | 'forbidden' | 'bad_request' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'MediaError';
  }
}
