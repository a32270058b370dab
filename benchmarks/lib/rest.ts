/** One call to a deployment's REST API (`/api/v1…`) with its API key; throws with the status and reason. */
export async function rest(
  base: string,
  apiKey: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ id: string; joinUrl: string }> {
  const r = await fetch(`${base}/api/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await r.json()) as { id: string; joinUrl: string };
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(json).slice(0, 200)}`);
  return json;
}
