/** A URL as it may be shown or logged: `rtsp://user:secret@host/path` as `rtsp://user:***@host/path`. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}
