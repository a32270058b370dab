import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import type { HearingServer } from '../server/app/server.ts';
import { signWebhook } from '../server/hearing/webhooks.ts';
import { api, startTestServer, type Api } from './helpers/server.ts';

interface Delivery {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A local webhook receiver that answers 500 to the first delivery attempt of each event, then 200. */
async function webhookReceiver(): Promise<{ url: string; deliveries: Delivery[]; close: () => void }> {
  const deliveries: Delivery[] = [];
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const id = String(req.headers['x-hearing-delivery']);
      if (!seen.has(id)) {
        seen.add(id);
        res.writeHead(500).end();
        return;
      }
      deliveries.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hooks`, deliveries, close: () => server.close() };
}

describe('REST API', () => {
  let server: HearingServer;
  let call: Api;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;

  beforeAll(async () => {
    hooks = await webhookReceiver();
    server = await startTestServer({ webhookUrl: hooks.url, webhookSecret: 'whsec-test-0123456789', webhookRetryMs: 20 });
    call = api(server);
  });
  afterAll(async () => {
    await server?.close();
    hooks?.close();
  });

  it('creates a hearing, adds participants with tokens, drives the state machine and logs it', async () => {
    const created = await call('POST', '/api/v1/hearings', {
      caseNumber: '(2026)京0105民初123号',
      title: 'Li v. Zhang',
      scheduledAt: '2026-12-01T09:00:00+08:00',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ caseNumber: '(2026)京0105民初123号', title: 'Li v. Zhang', state: 'scheduled', participants: [] });
    const id = created.body.id as string;

    const roles = ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer'];
    for (const role of roles) {
      const p = await call('POST', `/api/v1/hearings/${id}/participants`, { name: `Person ${role}`, role, idNumber: '110105199001011234' });
      expect(p.status).toBe(201);
      expect(p.body).toMatchObject({ role, name: `Person ${role}`, idNumberMasked: '**************1234' });
      const claims = decodeJwt(p.body.token);
      expect(claims).toMatchObject({ hid: id, sub: p.body.id, role });
      expect(claims.exp! - claims.iat!).toBe(server.config.tokenTtlSeconds);
      expect(p.body.joinUrl).toBe(`${server.url}/join?token=${encodeURIComponent(p.body.token)}`);
    }
    const fetched = await call('GET', `/api/v1/hearings/${id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.participants.map((p: { role: string }) => p.role)).toEqual(roles);
    expect(JSON.stringify(fetched.body)).not.toContain('110105199001011234');

    const reissued = await call('POST', `/api/v1/hearings/${id}/participants/${fetched.body.participants[0].id}/token`);
    expect(reissued.status).toBe(201);
    expect(decodeJwt(reissued.body.token).sub).toBe(fetched.body.participants[0].id);

    const bad = await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' });
    expect(bad).toMatchObject({ status: 409, body: { error: { code: 'invalid_transition', allowed: ['waiting_room', 'closed'] } } });
    for (const to of ['waiting_room', 'open', 'investigation', 'debate', 'adjourned', 'open', 'final_statement', 'closed']) {
      const r = await call('POST', `/api/v1/hearings/${id}/transitions`, { to });
      expect(r.status, `to ${to}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.state).toBe(to);
    }
    expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' })).body.error.allowed).toEqual([]);
    expect((await call('POST', `/api/v1/hearings/${id}/participants`, { name: 'Late', role: 'party' })).status).toBe(409);

    const events = await call('GET', `/api/v1/hearings/${id}/events`);
    const transitions = events.body.events.filter((e: { action: string }) => e.action === 'hearing.state_changed');
    expect(transitions.map((e: { detail: { to: string } }) => e.detail.to)).toEqual([
      'waiting_room',
      'open',
      'investigation',
      'debate',
      'adjourned',
      'open',
      'final_statement',
      'closed',
    ]);
    expect(transitions.every((e: { actor: string }) => e.actor === 'api')).toBe(true);

    const list = await call('GET', '/api/v1/hearings?limit=5');
    expect(list.body.hearings.some((h: { id: string }) => h.id === id)).toBe(true);

    // Webhooks: every event arrives, in order, signed, after a retry of the refused first attempt.
    const expected = events.body.events.length;
    const deadline = Date.now() + 30_000;
    while (hooks.deliveries.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const mine = hooks.deliveries.map((d) => ({ d, event: JSON.parse(d.body) })).filter(({ event }) => event.hearingId === id);
    expect(mine.map(({ event }) => event.id)).toEqual(events.body.events.map((e: { seq: number }) => e.seq));
    for (const { d, event } of mine) {
      const timestamp = String(d.headers['x-hearing-timestamp']);
      expect(d.headers['x-hearing-signature']).toBe(`sha256=${signWebhook('whsec-test-0123456789', timestamp, d.body)}`);
      expect(d.headers['x-hearing-event']).toBe(event.type);
    }
    expect(mine.map(({ event }) => event.type)).toContain('hearing.state_changed');
  });

  it('rejects missing and wrong API keys', async () => {
    expect((await api(server, 'wrong-key')('GET', '/api/v1/hearings')).status).toBe(401);
    const res = await fetch(`${server.url}/api/v1/hearings`);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('unauthorized');
  });

  it('rejects malformed input on every endpoint with 400 and a JSON reason', async () => {
    const h = (await call('POST', '/api/v1/hearings', { caseNumber: 'X-1', title: 'T' })).body.id as string;
    const p = (await call('POST', `/api/v1/hearings/${h}/participants`, { name: 'N', role: 'party' })).body.id as string;
    const cases: [string, string, unknown][] = [
      ['POST', '/api/v1/hearings', '{"caseNumber": '],
      ['POST', '/api/v1/hearings', {}],
      ['POST', '/api/v1/hearings', []],
      ['POST', '/api/v1/hearings', 'null'],
      ['POST', '/api/v1/hearings', { caseNumber: 5, title: 'T' }],
      ['POST', '/api/v1/hearings', { caseNumber: 'A', title: 'T', extra: true }],
      ['POST', '/api/v1/hearings', { caseNumber: 'A', title: 'T', scheduledAt: 'tomorrow' }],
      ['POST', '/api/v1/hearings', { caseNumber: 'A'.repeat(65), title: 'T' }],
      ['GET', '/api/v1/hearings?limit=0', undefined],
      ['GET', '/api/v1/hearings?limit=abc', undefined],
      ['GET', '/api/v1/hearings/not-a-uuid', undefined],
      ['POST', `/api/v1/hearings/${h}/participants`, { name: 'N', role: 'emperor' }],
      ['POST', `/api/v1/hearings/${h}/participants`, { role: 'party' }],
      ['POST', `/api/v1/hearings/${h}/participants`, { name: 'N', role: 'party', idNumber: '1; DROP TABLE' }],
      ['POST', `/api/v1/hearings/${h}/participants`, '{{{'],
      ['POST', '/api/v1/hearings/xyz/participants', { name: 'N', role: 'party' }],
      ['POST', `/api/v1/hearings/${h}/participants/nope/token`, undefined],
      ['POST', `/api/v1/hearings/${h}/transitions`, { to: 'somewhere' }],
      ['POST', `/api/v1/hearings/${h}/transitions`, {}],
      ['POST', `/api/v1/hearings/${h}/transitions`, 'x'],
      ['GET', `/api/v1/hearings/${h}/events?after=-1`, undefined],
    ];
    for (const [method, route, body] of cases) {
      const r = await call(method, route, body);
      expect(r.status, `${method} ${route} ${JSON.stringify(body)}`).toBe(400);
      expect(typeof r.body.error.code).toBe('string');
      expect(r.body.error.message.length).toBeGreaterThan(0);
    }
    const huge = await call('POST', '/api/v1/hearings', { caseNumber: 'A', title: 'x'.repeat(100_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('body_too_large');
    // Unknown ids are 404, not 400.
    expect((await call('GET', '/api/v1/hearings/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('POST', `/api/v1/hearings/${h}/participants/00000000-0000-4000-8000-000000000000/token`)).status).toBe(404);
    expect((await call('GET', '/api/v1/nothing-here')).status).toBe(404);
    // Nothing malformed was stored.
    expect((await call('GET', `/api/v1/hearings/${h}`)).body.participants.map((x: { id: string }) => x.id)).toEqual([p]);
  });

  it('serves health, Prometheus metrics and an OpenAPI document of the whole API', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true, workers: { live: 2, total: 2 } } });
    await server.plane.room((await call('POST', '/api/v1/hearings', { caseNumber: 'M-1', title: 'T' })).body.id);
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    for (const name of [
      'hearing_media_workers 2',
      'hearing_media_routers{worker="0"}',
      'hearing_media_transports',
      'hearing_media_producers',
      'hearing_media_consumers',
      'hearing_media_worker_cpu_seconds{worker="1"',
      'hearing_hearings{state="scheduled"}',
    ]) {
      expect(metrics).toContain(name);
    }
    const routers = [...metrics.matchAll(/^hearing_media_routers\{worker="\d"\} (\d+)$/gm)].map((m) => Number(m[1]));
    expect(routers.reduce((a, b) => a + b, 0)).toBe(server.plane.all().length);

    const doc = (await call('GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const path of [
      '/api/v1/hearings',
      '/api/v1/hearings/{id}',
      '/api/v1/hearings/{id}/participants',
      '/api/v1/hearings/{id}/transitions',
      '/api/v1/hearings/{id}/events',
      '/healthz',
      '/metrics',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const roleEnum =
      doc.paths['/api/v1/hearings/{id}/participants'].post.requestBody.content['application/json'].schema.properties.role.enum;
    expect(roleEnum).toEqual(['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer']);
    // Every route the server answers is documented (the record, transcript, evidence, identity, stream).
    for (const path of [
      '/api/v1/hearings/{id}/transcript',
      '/api/v1/hearings/{id}/evidence',
      '/api/v1/hearings/{id}/record',
      '/api/v1/hearings/{id}/sources',
      '/api/v1/hearings/{id}/sources/{sid}',
      '/api/v1/hearings/{id}/record/verify',
      '/api/v1/hearings/{id}/record/export',
      '/api/v1/hearings/{id}/record/review',
      '/api/v1/record-key',
      '/api/v1/hearings/{id}/participants/{pid}/reference-photo',
      '/api/v1/hearings/{id}/participants/{pid}/identity/decision',
      '/api/v1/hearings/{id}/stream',
      '/api/v1/hearings/{id}/stream/streamable',
      '/api/v1/hearings/{id}/participants/{pid}/protection',
      '/live/{id}/{file}',
      '/watch/{id}',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/api/v1/hearings/{id}/stream'].post.requestBody.content['application/json'].schema.properties.action.enum).toEqual([
      'approve',
      'start',
      'pause',
      'stop',
      'cut',
    ]);
    expect(
      doc.paths['/api/v1/hearings/{id}/participants/{pid}/reference-photo'].post.requestBody.content['multipart/form-data'].schema.required,
    ).toEqual(['photo']);
  });
});
