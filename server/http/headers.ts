import type { RequestHandler } from 'express';

/**
 * Headers on every answer: no MIME sniffing, no Referer (a join link carries a token), and a content
 * security policy for the pages (the join page, the public viewer, the printable transcript): scripts
 * only from this server, styles inline or from here, pictures and media from here or data/blob URLs
 * (identity frames, evidence, the player's media source), connections only back to this server. Framing
 * is refused unless the court platform's origins are configured (`HEARING_FRAME_ANCESTORS`).
 */
export function securityHeaders(frameAncestors: string): RequestHandler {
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors || "'none'"}`,
  ].join('; ');
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', csp);
    if (!frameAncestors) res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
}
