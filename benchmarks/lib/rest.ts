import https from 'node:https';

/**
 * One call to a deployment's REST API (`/api/v1…`) with its API key; throws with the status and reason.
 * `ca`: the server's own certificate (self-signed), trusted alone.
 */
export async function rest(
  base: string,
  apiKey: string,
  method: string,
  route: string,
  body?: unknown,
  ca?: string,
): Promise<{ id: string; joinUrl: string; token: string }> {
  const init = {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  };
  const url = `${base}/api/v1${route}`;
  const r = ca ? await httpsRequest(url, init, ca) : await fetch(url, init);
  const json = JSON.parse(await r.text()) as { id: string; joinUrl: string; token: string };
  if (r.status >= 400) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(json).slice(0, 200)}`);
  return json;
}

/**
 * A request to a server with its own (self-signed) certificate, trusted as the only CA: Node's fetch
 * takes no CA of its own.
 */
export function httpsRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body: string | undefined },
  ca: string,
): Promise<{ status: number; text(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method, headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: async () => Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
