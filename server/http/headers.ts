import type { RequestHandler } from 'express';

/**
 * Headers on every answer: no MIME sniffing, no Referer (a join link carries a token), and a content
 * security policy for the pages (the join page, the public viewer, the printable transcript): scripts
 * only from this server, styles inline or from here, pictures and media from here or data/blob URLs
 * (identity frames, evidence, the player's media source), connections only back to this server (and, in
 * a cluster, to its other nodes: a page whose node is lost asks them where its hearing went). Framing
 * is refused unless the court platform's origins are configured (`HEARING_FRAME_ANCESTORS`).
 */
export function securityHeaders(frameAncestors: string, otherOrigins: () => string[] = () => []): RequestHandler {
  const policy = (others: string[]) =>
    [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self' 'unsafe-inline'",
      "img-src 'self' data: blob:",
      "media-src 'self' blob:",
      "worker-src 'self' blob:",
      `connect-src 'self'${others.map((o) => ` ${o}`).join('')}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      `frame-ancestors ${frameAncestors || "'none'"}`,
    ].join('; ');
  let cached = { key: '', csp: policy([]) };
  return (_req, res, next) => {
    const others = otherOrigins();
    const key = others.join(' ');
    if (key !== cached.key) cached = { key, csp: policy(others) };
    const csp = cached.csp;
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', csp);
    if (!frameAncestors) res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
}
