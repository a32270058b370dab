// Insiders: a clerk, a lawyer, a viewer with a valid link try what their role does not allow.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import dgram from 'node:dgram';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { api, createHearing, startTestServer, uploadEvidence, withServer } from './helpers/server.ts';
import { connect, refusal, request } from './helpers/socket.ts';
import { enroll, face } from './helpers/faces.ts';
import { until } from './helpers/wait.ts';
import { rtpPacket, rtpReceiver } from './helpers/rtp.ts';
import { LIMITS } from '../server/signaling/signaling.ts';
import { consultationRoomKey } from '../workers/media/plane.ts';
import { MAX_KEYS } from '../server/transcript/signing.ts';
import { IMAGE_LIMITS, ImageDecoder } from '../server/evidence/images.ts';
import { UPLOAD_LIMITS } from '../server/evidence/api.ts';
import sharp from 'sharp';

const VP8 = { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [{ ssrc: 7001 }] };

describe('trust: role lines hold against insiders', () => {
  const ctx = withServer();

  it('identity decisions: never on the judge, never on oneself, only on enrolled gated roles; the judge’s decision stands', async () => {
    const { server } = ctx;
    const { id, participants } = await createHearing(server, [
      { name: 'Judge Wang', role: 'judge' },
      { name: 'Clerk Zhou', role: 'clerk' },
      { name: 'Party Li', role: 'party' },
      { name: 'Party Sun', role: 'party' },
      { name: 'Interpreter Ma', role: 'interpreter' },
    ]);
    const [judge, clerk, party, unenrolled, interpreter] = participants as [
      (typeof participants)[0],
      (typeof participants)[0],
      (typeof participants)[0],
      (typeof participants)[0],
      (typeof participants)[0],
    ];
    expect((await enroll(server, id, party.id, face('amy1'))).status).toBe(201);
    const [judgeSocket, clerkSocket] = (await Promise.all([connect(server.url, judge.token), connect(server.url, clerk.token)])) as [
      Socket,
      Socket,
    ];
    const decide = (s: Socket, participantId: string, decision: string) =>
      request(s, 'identityDecision', { participantId, decision, reason: 'as decided in the hearing' });

    // The clerk cannot refuse the judge (who is never enrolled), nor admit themselves.
    expect((await decide(clerkSocket, judge.id, 'refuse')).error.code).toBe('forbidden');
    expect((await decide(clerkSocket, clerk.id, 'admit')).error.code).toBe('forbidden');
    expect((await decide(judgeSocket, judge.id, 'admit')).error.code).toBe('forbidden');
    // Not a gated role, or nothing to decide on.
    expect((await decide(clerkSocket, interpreter.id, 'refuse')).error.code).toBe('forbidden');
    expect((await decide(clerkSocket, unenrolled.id, 'refuse')).error.code).toBe('not_enrolled');
    // Nothing happened to the judge: still in the hearing, not refused.
    expect(judgeSocket.connected).toBe(true);
    expect(server.identity.isRefused(id, judge.id)).toBe(false);
    expect(server.store.auditLog(id).filter((e) => e.action === 'identity.decided')).toEqual([]);

    // The judge admits the party; the clerk cannot overturn it; the judge can.
    expect((await decide(judgeSocket, party.id, 'admit')).status).toBe('verified');
    expect((await decide(clerkSocket, party.id, 'refuse')).error.code).toBe('judge_decided');
    expect((await decide(judgeSocket, party.id, 'refuse')).status).toBe('rejected');
    const decided = server.store.auditLog(id).filter((e) => e.action === 'identity.decided');
    expect(decided.map((e) => [e.actor, e.detail.participantId, e.detail.decision])).toEqual([
      [judge.id, party.id, 'admit'],
      [judge.id, party.id, 'refuse'],
    ]);
    // Refused means out everywhere at once: the socket is refused, the party's token no longer reads
    // or submits evidence.
    expect(await refusal(server.url, party.token)).toMatchObject({ code: 'identity_refused' });
    const r = await fetch(`${server.url}/api/v1/hearings/${id}/evidence`, { headers: { authorization: `Bearer ${party.token}` } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as any).error.code).toBe('identity_refused');
    expect((await uploadEvidence(server, id, party.token, face('amy2'), 'a.png')).status).toBe(403);
    judgeSocket.close();
    clerkSocket.close();
  });

  it('a lawyer consults only the parties they represent, and only once the party accepts', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Party Li', role: 'party' },
      { name: 'Party Sun', role: 'party' },
      { name: 'Judge Wang', role: 'judge' },
    ]);
    const [li, sun, judge] = participants as [(typeof participants)[0], (typeof participants)[0], (typeof participants)[0]];
    const addLawyer = (name: string, represents: string[], role = 'lawyer') =>
      call('POST', `/api/v1/hearings/${id}/participants`, { name, role, represents });
    // The court platform binds each lawyer to their parties; nonsense bindings are refused.
    expect((await addLawyer('Clerk X', [li.id], 'clerk')).body.error.code).toBe('not_a_lawyer');
    expect((await addLawyer('Lawyer X', [judge.id])).body.error.code).toBe('not_a_party');
    const zhao = (await addLawyer('Lawyer Zhao', [li.id])).body;
    const qian = (await addLawyer('Lawyer Qian', [sun.id])).body;
    expect(zhao.represents).toEqual([li.id]);
    const [liSocket, sunSocket, zhaoSocket, qianSocket] = (await Promise.all(
      [li, sun, zhao, qian].map((p) => connect(server.url, p.token)),
    )) as [Socket, Socket, Socket, Socket];
    for (const s of [liSocket, sunSocket, zhaoSocket, qianSocket]) await request(s, 'join', {});
    const events: [string, string, unknown][] = [];
    for (const [who, s] of [
      ['li', liSocket],
      ['zhao', zhaoSocket],
      ['qian', qianSocket],
    ] as const)
      for (const e of ['consultationInvited', 'consultationOpened', 'consultationClosed']) s.on(e, (d) => events.push([who, e, d]));

    // Another party's lawyer cannot pull Li aside, nor Li ask them.
    expect((await request(qianSocket, 'openConsultation', { with: li.id })).error.code).toBe('not_represented');
    expect((await request(liSocket, 'openConsultation', { with: qian.id })).error.code).toBe('not_represented');

    // Li's own lawyer asks: an invitation, no room and no media until Li accepts.
    const asked = await request(zhaoSocket, 'openConsultation', { with: li.id });
    expect(asked.state).toBe('invited');
    const consultationId = asked.consultationId as string;
    await until('Li is asked', () => events.some(([w, e]) => w === 'li' && e === 'consultationInvited'));
    for (const [s, msg, data] of [
      [zhaoSocket, 'createTransport', { direction: 'send', consultationId }],
      [liSocket, 'createTransport', { direction: 'recv', consultationId }],
      [zhaoSocket, 'joinConsultation', { consultationId }],
    ] as const)
      expect((await request(s, msg, data)).error.code, msg).toBe('not_found');
    expect(server.plane.get(consultationRoomKey(consultationId))).toBeUndefined();
    // Only Li answers; the other lawyer is not let in.
    expect((await request(zhaoSocket, 'answerConsultation', { consultationId, accept: true })).error.code).toBe('not_found');
    expect((await request(qianSocket, 'answerConsultation', { consultationId, accept: true })).error.code).toBe('not_found');
    // Li declines: Zhao is told, nothing opened.
    expect((await request(liSocket, 'answerConsultation', { consultationId, accept: false })).state).toBe('declined');
    await until('Zhao hears the refusal', () =>
      events.some(([w, e, d]) => w === 'zhao' && e === 'consultationClosed' && (d as any).reason === 'declined'),
    );
    expect(server.plane.get(consultationRoomKey(consultationId))).toBeUndefined();

    // Asked again, Li accepts: both are told and only now may bring media.
    const again = (await request(zhaoSocket, 'openConsultation', { with: li.id })).consultationId as string;
    expect((await request(liSocket, 'answerConsultation', { consultationId: again, accept: true })).state).toBe('open');
    await until('both are in', () => ['li', 'zhao'].every((w) => events.some(([x, e]) => x === w && e === 'consultationOpened')));
    expect((await request(zhaoSocket, 'createTransport', { direction: 'send', consultationId: again })).id).toBeTypeOf('string');
    expect((await request(qianSocket, 'createTransport', { direction: 'recv', consultationId: again })).error.code).toBe('not_found');
    expect(events.filter(([w]) => w === 'qian')).toEqual([]);
    // The court sees that it happened, and who accepted.
    const log = (await call('GET', `/api/v1/hearings/${id}/events`)).body.events.filter((e: any) => e.action.startsWith('consultation.'));
    expect(log.map((e: any) => [e.action, e.actor])).toEqual([
      ['consultation.requested', zhao.id],
      ['consultation.not_opened', li.id],
      ['consultation.requested', zhao.id],
      ['consultation.opened', zhao.id],
    ]);
    expect(log[3].detail.acceptedBy).toBe(li.id);
    for (const s of [liSocket, sunSocket, zhaoSocket, qianSocket]) s.close();
  });

  it('a protected participant’s picture reaches no viewer: refused to consume, and cut off when protection begins', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Witness Protected', role: 'party' },
      { name: 'Observer', role: 'viewer' },
      { name: 'Lawyer Zhao', role: 'lawyer' },
    ]);
    const [witness, viewer, lawyer] = participants as [(typeof participants)[0], (typeof participants)[0], (typeof participants)[0]];
    const room = await server.plane.room(id);
    const ingest = await room.createPlainTransport(witness.id, 'send', { comedia: true });
    const camera = await room.produce(witness.id, ingest.id, 'video', VP8 as never, 'camera');
    const sockets = (await Promise.all([connect(server.url, viewer.token), connect(server.url, lawyer.token)])) as [Socket, Socket];
    const [viewerSocket, lawyerSocket] = sockets;
    const consume = async (s: Socket) => {
      const { routerRtpCapabilities } = await request(s, 'join', {});
      const recv = await request(s, 'createTransport', { direction: 'recv' });
      return request(s, 'consume', { transportId: recv.id, producerId: camera.id, rtpCapabilities: routerRtpCapabilities });
    };
    // Before protection the viewer may watch; once protected, the consumer it had is closed and told.
    const before = await consume(viewerSocket);
    expect(before.id).toBeTypeOf('string');
    const closed = new Promise<any>((resolve) => viewerSocket.once('consumerClosed', resolve));
    expect(
      (await call('POST', `/api/v1/hearings/${id}/participants/${witness.id}/protection`, { hidden: true, voice: 'natural' })).status,
    ).toBe(200);
    expect(await closed).toMatchObject({ consumerId: before.id, producerId: camera.id });
    expect(room.producers().find((p) => p.producerId === camera.id)).toBeDefined();
    // A new attempt is refused; the lawyer (a party to the hearing) still sees the witness.
    expect((await consume(viewerSocket)).error.code).toBe('protected');
    expect((await consume(lawyerSocket)).id).toBeTypeOf('string');
    for (const s of sockets) s.close();
  });

  it('evidence is for the parties and the court: a viewer may not list or fetch it; nothing is written to a closed hearing', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(server, [
      { name: 'Party Li', role: 'party' },
      { name: 'Observer', role: 'viewer' },
    ]);
    const [party, viewer] = participants as [(typeof participants)[0], (typeof participants)[0]];
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'waiting_room' });
    await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'open' });
    const added = await uploadEvidence(server, id, party.token, face('howard1'), 'contract.png');
    expect(added.status).toBe(201);
    const get = (token: string, route = '') =>
      fetch(`${server.url}/api/v1/hearings/${id}/evidence${route}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get(party.token)).status).toBe(200);
    for (const route of ['', `/${added.body.id}`, `/${added.body.id}?thumb=1`]) {
      const r = await get(viewer.token, route);
      expect(r.status, route).toBe(403);
      expect(((await r.json()) as any).error.code).toBe('forbidden');
    }

    expect((await call('POST', `/api/v1/hearings/${id}/transitions`, { to: 'closed' })).status).toBe(200);
    await until('record sealed', () => server.store.auditLog(id).some((e) => e.action === 'record.sealed'));
    const dir = server.recorder.dirOf(id);
    const { readdirSync } = await import('node:fs');
    const before = readdirSync(`${dir}/evidence`).sort();
    for (const token of [party.token, server.secrets.apiKey]) {
      const late = await uploadEvidence(server, id, token, face('howard2'), 'late.png');
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('hearing_closed');
    }
    expect(readdirSync(`${dir}/evidence`).sort()).toEqual(before);
    // Nor anything else: a fresh token, the stream flag, a protection.
    for (const [method, route, body] of [
      ['POST', `/participants/${party.id}/token`, undefined],
      ['PUT', '/stream/streamable', { streamable: false }],
      ['POST', `/participants/${party.id}/protection`, { hidden: true, voice: 'natural' }],
    ] as const) {
      const r = await call(method, `/api/v1/hearings/${id}${route}`, body);
      expect([route, r.status, r.body.error?.code]).toEqual([route, 409, 'hearing_closed']);
    }
    expect(server.store.auditLog(id).filter((e) => e.action === 'evidence.added')).toHaveLength(1);
    expect((await call('GET', `/api/v1/hearings/${id}/record/verify`)).body).toMatchObject({ ok: true, complete: true });
    // Data at rest is the server's own: the folder and every folder under it 0700, every file 0600.
    const { statSync } = await import('node:fs');
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    const data = server.config.dataDir;
    expect(mode(data)).toBe('700');
    for (const f of [`${data}/hearings.sqlite`, `${dir}/manifest.jsonl`, `${dir}/signature.json`, `${dir}/evidence/${added.body.id}.jpg`])
      expect(mode(f), f).toBe('600');
    for (const d of [`${data}/hearings`, dir, `${dir}/evidence`]) expect(mode(d), d).toBe('700');
  });
});

describe('trust: one participant cannot exhaust what the others need', () => {
  const ctx = withServer();

  it('transports and consumers per participant are bounded by role; a participant in the same hearing keeps working', async () => {
    const { server } = ctx;
    const { id, participants } = await createHearing(server, [
      { name: 'Observer', role: 'viewer' },
      { name: 'Party Li', role: 'party' },
    ]);
    const [viewer, party] = participants as [(typeof participants)[0], (typeof participants)[0]];
    const [viewerSocket, partySocket] = (await Promise.all([connect(server.url, viewer.token), connect(server.url, party.token)])) as [
      Socket,
      Socket,
    ];
    const { routerRtpCapabilities } = await request(viewerSocket, 'join', {});
    await request(partySocket, 'join', {});
    const room = server.plane.get(id)!;

    // The party speaks all along (RTP into the server at 50 packets a second) and a listener in the
    // same hearing receives it: media must keep flowing while the viewer floods.
    const ssrc = 4711;
    const ingest = await room.createPlainTransport(party.id, 'send', { comedia: true });
    const mic = await room.produce(
      party.id,
      ingest.id,
      'audio',
      { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] } as never,
      'mic',
    );
    const listener = await rtpReceiver();
    const listening = await room.createPlainTransport('listener', 'recv');
    await room.connectPlainTransport('listener', listening.id, { ip: '127.0.0.1', port: listener.port });
    await room.consume('listener', listening.id, mic.id, room.rtpCapabilities);
    const sender = dgram.createSocket('udp4');
    let sent = 0;
    const speaking = setInterval(() => {
      const packet = rtpPacket({ payloadType: 100, seq: sent, timestamp: sent * 960, ssrc, index: sent });
      sent++;
      sender.send(packet, ingest.tuple.localPort, ingest.tuple.localIp);
    }, 20);

    // 50 receive transports asked for at once, while the party pings.
    const pings: number[] = [];
    const pinging = (async () => {
      for (let i = 0; i < 40; i++) {
        const t0 = performance.now();
        await request(partySocket, 'ping', {});
        pings.push(performance.now() - t0);
      }
    })();
    const asked = await Promise.all(Array.from({ length: 50 }, () => request(viewerSocket, 'createTransport', { direction: 'recv' })));
    await pinging;
    expect(asked.filter((r) => typeof r.id === 'string')).toHaveLength(LIMITS.viewerTransports);
    expect(new Set(asked.filter((r) => r.error).map((r) => r.error.code))).toEqual(new Set(['limit_reached']));
    expect(room.peerCounts(viewer.id).transports).toBe(LIMITS.viewerTransports);
    pings.sort((a, b) => a - b);
    expect(pings[Math.floor(pings.length * 0.99)]!).toBeLessThan(250);
    // The party still gets its own transports.
    expect((await request(partySocket, 'createTransport', { direction: 'send' })).id).toBeTypeOf('string');

    // Consumers: the same producer consumed over and over stops at the limit.
    const transportId = asked.find((r) => r.id)!.id;
    const consumed = [];
    for (let i = 0; i < LIMITS.consumers + 10; i++)
      consumed.push(await request(viewerSocket, 'consume', { transportId, producerId: mic.id, rtpCapabilities: routerRtpCapabilities }));
    expect(consumed.filter((r) => typeof r.id === 'string')).toHaveLength(LIMITS.consumers);
    expect(consumed.slice(LIMITS.consumers).map((r) => r.error.code)).toEqual(Array(10).fill('limit_reached'));
    expect(room.peerCounts(viewer.id).consumers).toBe(LIMITS.consumers);

    await until('two seconds of speech', () => sent >= 100, 10_000);
    clearInterval(speaking);
    await until('the listener has what was sent', () => listener.packets.length >= sent - 2, 5000).catch(() => undefined);
    sender.close();
    listener.close();
    // Every packet the party sent during the flood reached the listener, in order.
    expect(sent).toBeGreaterThanOrEqual(100);
    expect(listener.packets.length).toBeGreaterThanOrEqual(sent - 2);
    expect(listener.packets.map((p) => p.index)).toEqual([...Array(listener.packets.length).keys()]);
    for (const s of [viewerSocket, partySocket]) s.close();
  });

  it('joining again adds nothing to the record; recorded actions are rate-limited per participant and the limit is logged once', async () => {
    const { server } = ctx;
    const { id, participants } = await createHearing(server, [
      { name: 'Observer', role: 'viewer' },
      { name: 'Party Li', role: 'party' },
      { name: 'Clerk Zhou', role: 'clerk' },
      { name: 'Judge Wang', role: 'judge' },
    ]);
    const [viewer, party, clerk, judge] = participants as [
      (typeof participants)[0],
      (typeof participants)[0],
      (typeof participants)[0],
      (typeof participants)[0],
    ];
    const sockets = (await Promise.all(participants.map((p) => connect(server.url, p.token)))) as Socket[];
    const [viewerSocket, partySocket, clerkSocket, judgeSocket] = sockets as [Socket, Socket, Socket, Socket];
    const linesBy = (pid: string, action?: string) =>
      server.store.auditLog(id).filter((e) => e.actor === pid && (action === undefined || e.action === action));
    const lines = (pid: string) =>
      server.store
        .auditLog(id)
        .filter((e) => e.actor === pid)
        .map((e) => e.action);

    // 300 joins on one connection: the first is logged, the rest only reset the viewer's media.
    const joins = [];
    for (let i = 0; i < 300; i++) joins.push(await request(viewerSocket, 'join', {}));
    expect(joins.filter((r) => r.self?.participantId === viewer.id).length).toBe(LIMITS.recordBurst);
    expect(new Set(joins.filter((r) => r.error).map((r) => r.error.code))).toEqual(new Set(['record_rate_limited']));
    expect(lines(viewer.id)).toEqual(['participant.joined', 'participant.rate_limited']);

    // 100 different signing keys from one party: a few devices' worth are kept, one line each; the same key again is no new line.
    await request(partySocket, 'join', {});
    const keys = Array.from({ length: 100 }, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }));
    const registered = [];
    for (const publicKey of keys) registered.push(await request(partySocket, 'registerSigningKey', { publicKey }));
    expect(registered.filter((r) => r.keyId).length).toBe(MAX_KEYS);
    expect(new Set(registered.slice(MAX_KEYS).map((r) => r.error.code))).toEqual(new Set(['limit_reached', 'record_rate_limited']));
    expect(linesBy(party.id, 'signing_key.registered')).toHaveLength(MAX_KEYS);
    const again = await request(partySocket, 'registerSigningKey', { publicKey: keys[0] });
    expect(again.keyId ?? again.error.code).toMatch(/^[0-9a-f]{64}$|^record_rate_limited$/);
    expect(linesBy(party.id, 'signing_key.registered')).toHaveLength(MAX_KEYS);
    expect(linesBy(party.id, 'participant.rate_limited')).toHaveLength(1);

    // A clerk toggling protection 100 times: the burst is recorded, the rest refused and not done, the limit logged once.
    await request(clerkSocket, 'join', {});
    const toggles = [];
    for (let i = 0; i < 100; i++)
      toggles.push(await request(clerkSocket, 'setProtection', { participantId: party.id, hidden: i % 2 === 0, voice: 'natural' }));
    const done = toggles.filter((r) => !r.error).length;
    expect(done).toBeGreaterThanOrEqual(LIMITS.recordBurst - 1);
    expect(done).toBeLessThanOrEqual(LIMITS.recordBurst + 2);
    expect(linesBy(clerk.id, 'stream.protection')).toHaveLength(done);
    expect(linesBy(clerk.id, 'participant.rate_limited')).toHaveLength(1);

    // Meanwhile the judge acts at once and is recorded: the limits are each participant's own.
    const t0 = performance.now();
    expect((await request(judgeSocket, 'transition', { to: 'waiting_room' })).state).toBe('waiting_room');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(lines(judge.id)).toContain('hearing.state_changed');
    for (const s of sockets) s.close();
  });

  it('costly photos are decoded apart from the server, one at a time: pixel limit, one upload at a time and a rate per participant', async () => {
    const { server } = ctx;
    const people = Array.from({ length: 6 }, (_, i) => ({ name: `Party ${i}`, role: 'party' as const }));
    const { id, participants } = await createHearing(server, [...people, { name: 'Judge Wang', role: 'judge' }]);
    const parties = participants.slice(0, 6);
    const judge = participants[6]!;
    const judgeSocket = await connect(server.url, judge.token);
    await request(judgeSocket, 'join', {});
    // Decompression bombs of a few kilobytes: 39.7 MP is over the limit; 31.4 MP (5600²) is a photo to decode.
    const bomb = await sharp({ create: { width: 6300, height: 6300, channels: 3, background: '#777' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const costly = await sharp({ create: { width: 5600, height: 5600, channels: 3, background: '#777' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(bomb.length + costly.length).toBeLessThan(300_000);
    expect(6300 * 6300).toBeGreaterThan(IMAGE_LIMITS.maxPixels);
    expect(5600 * 5600).toBeLessThan(IMAGE_LIMITS.maxPixels);

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const pings: number[] = [];
    let uploading = true;
    const pinging = (async () => {
      while (uploading) {
        const t0 = performance.now();
        await request(judgeSocket, 'ping', {});
        pings.push(performance.now() - t0);
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Six parties at once: each a bomb and a costly photo, and a second upload while the first is under way.
    const results = await Promise.all(
      parties.map(async (p) => {
        const first = uploadEvidence(server, id, p.token, costly, 'costly.png');
        const meanwhile = await uploadEvidence(server, id, p.token, costly, 'again.png');
        const bombed = await first.then(() => uploadEvidence(server, id, p.token, bomb, 'bomb.png'));
        return { first: await first, meanwhile, bombed };
      }),
    );
    uploading = false;
    await pinging;
    for (const r of results) {
      // The two uploads race to the server (CI run 15 saw the second arrive first): one is decoded, the
      // other refused while it is.
      const [taken, refused] = r.first.status === 201 ? [r.first, r.meanwhile] : [r.meanwhile, r.first];
      expect(taken.status, JSON.stringify(taken.body)).toBe(201);
      expect([taken.body.width, taken.body.height]).toEqual([5600, 5600]);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('upload_in_progress');
      expect(r.bombed.status).toBe(413);
      expect(r.bombed.body.error.code).toBe('image_too_large');
    }
    // The server decoded none of it itself: its memory did not grow by the decoded pictures, its pings stayed quick.
    expect(rssPeak - rssBefore).toBeLessThan(120 * 1024 * 1024);
    pings.sort((a, b) => a - b);
    expect(pings.length).toBeGreaterThan(10);
    expect(pings[Math.floor(pings.length * 0.99)]!).toBeLessThan(250);

    // One participant's rate (a party who has not uploaded yet): the burst, then refused with the limit
    // logged once. The bucket refills one photo per 5 s while this runs.
    const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#345' } })
      .jpeg()
      .toBuffer();
    const one = (await api(server)('POST', `/api/v1/hearings/${id}/participants`, { name: 'Party Zhou', role: 'party' })).body as {
      id: string;
      token: string;
    };
    const statuses = [];
    const t0 = Date.now();
    for (let i = 0; i < UPLOAD_LIMITS.burst + 3; i++) statuses.push((await uploadEvidence(server, id, one.token, small)).status);
    const refills = Math.floor(((Date.now() - t0) / 1000) * UPLOAD_LIMITS.perSecond);
    expect(statuses.slice(0, UPLOAD_LIMITS.burst)).toEqual(Array(UPLOAD_LIMITS.burst).fill(201));
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(UPLOAD_LIMITS.burst + refills);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(3 - refills);
    expect(statuses.filter((s) => s !== 201 && s !== 429)).toEqual([]);
    const limited = server.store.auditLog(id).filter((e) => e.actor === one.id && e.action === 'participant.rate_limited');
    expect(limited).toHaveLength(1);
    judgeSocket.close();
  });

  it('a photo that takes too long or too much memory is refused by the image process alone; the next photo is decoded', async () => {
    let slow: ImageDecoder | undefined;
    const tight = new ImageDecoder({ ...IMAGE_LIMITS, memoryBytes: 1000 * 1024 * 1024 });
    const stillborn = new ImageDecoder({ ...IMAGE_LIMITS, memoryBytes: 256 * 1024 * 1024 });
    const normal = new ImageDecoder();
    try {
      const costly = await sharp({ create: { width: 5600, height: 5600, channels: 3, background: '#777' } })
        .png()
        .toBuffer();
      // Interlaced 16-bit RGBA: decoded whole into memory (5600² × 8 bytes = 239 MB), within the pixel limit.
      const hungry = await sharp({ create: { width: 5600, height: 5600, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } })
        .png({ progressive: true })
        .toColourspace('rgb16')
        .toBuffer();
      const small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#345' } })
        .jpeg()
        .toBuffer();
      const width = (d: { width: number }) => d.width;

      // The time limit a quarter of what this photo takes here (a fixed 300 ms let a fast machine decode it in time).
      expect(await normal.reencode(small, 10e6, 'jpeg').then(width)).toBe(64); // its process started
      const began = performance.now();
      expect(await normal.reencode(costly, 10e6, 'jpeg').then(width)).toBe(5600);
      const tookMs = performance.now() - began;
      slow = new ImageDecoder({ ...IMAGE_LIMITS, timeoutMs: Math.max(10, Math.round(tookMs / 4)) });
      await expect(slow.reencode(costly, 10e6, 'jpeg'), `decoded here in ${Math.round(tookMs)} ms`).rejects.toMatchObject({
        status: 422,
        code: 'image_too_costly',
      });
      expect(slow.killed).toBe(1);
      expect(await slow.reencode(small, 10e6, 'jpeg').then(width)).toBe(64);

      await expect(tight.reencode(hungry, 10e6, 'jpeg')).rejects.toMatchObject({ status: 422, code: 'image_too_costly' });
      expect(await tight.reencode(small, 10e6, 'jpeg').then(width)).toBe(64);
      // Within the server's own limit the same photo decodes.
      expect(await normal.reencode(hungry, 10e6, 'jpeg').then(width)).toBe(5600);

      // A process that cannot start refuses the photo in line, and does not hang it.
      await expect(stillborn.reencode(small, 10e6, 'jpeg')).rejects.toMatchObject({ status: 503, code: 'images_unavailable' });

      // A full queue is refused as busy, not held in memory: one photo decoding, `queue` waiting.
      const outcomes = await Promise.all(
        Array.from({ length: IMAGE_LIMITS.queue + 2 }, () =>
          normal.reencode(small, 10e6, 'jpeg').then(width, (e: { code: string }) => e.code),
        ),
      );
      expect(outcomes.filter((o) => o === 64)).toHaveLength(IMAGE_LIMITS.queue + 1);
      expect(outcomes.filter((o) => o === 'busy')).toHaveLength(1);
    } finally {
      for (const d of [slow, tight, stillborn, normal]) await d?.close();
    }
  });

  it('errors name a code, never the server’s internals', async () => {
    const { server } = ctx;
    const call = api(server);
    const { participants } = await createHearing(server, [{ name: 'Party Li', role: 'party' }]);
    const socket = await connect(server.url, participants[0]!.token);
    await request(socket, 'join', {});
    const send = await request(socket, 'createTransport', { direction: 'send' });
    const rtpParameters = {
      mid: '0',
      codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc: 1111 }],
    };
    expect((await request(socket, 'produce', { transportId: send.id, kind: 'audio', rtpParameters, source: 'mic' })).id).toBeTypeOf(
      'string',
    );
    // The same MID again: mediasoup refuses it with a message about its RTP listener.
    const again = await request(socket, 'produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: { ...rtpParameters, encodings: [{ ssrc: 2222 }] },
      source: 'screen',
    });
    expect(again.error.code).toMatch(/^(bad_request|failed)$/);
    expect(again.error.message).not.toMatch(/MID|listener|RTP/i);
    socket.close();
    // A static file that is not there, and a hearing that is not there.
    // By default no page may be framed.
    const join = await fetch(`${server.url}/join`);
    expect(join.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(join.headers.get('x-frame-options')).toBe('DENY');
    const client = await fetch(`${server.url}/client/`);
    expect(client.status).toBe(404);
    expect(await client.text()).not.toContain('/work');
    const unknown = await call('PUT', '/api/v1/hearings/00000000-0000-4000-8000-000000000000/stream/streamable', { streamable: true });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });
});

describe('trust: ID numbers are not kept', () => {
  it('only the last four and a keyed hash are stored; a store from before is scrubbed at start', async () => {
    const number = '110105199001011234';
    const other = '11010519900101567X';
    const files = (dir: string) =>
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith('hearings.sqlite'))
        .map((f) => fs.readFileSync(path.join(dir, f)));
    const holds = (dir: string, text: string) => files(dir).some((b) => b.includes(Buffer.from(text)));
    let server = await startTestServer();
    const dataDir = server.config.dataDir;
    try {
      const call = api(server);
      const { id } = await createHearing(server, []);
      const add = (name: string, idNumber: string) =>
        call('POST', `/api/v1/hearings/${id}/participants`, { name, role: 'party', idNumber });
      const [a, b, c] = [await add('Li', number), await add('Li again', ` ${number.toLowerCase()} `), await add('Zhang', other)];
      const hmac = (n: string) => createHmac('sha256', server.secrets.idKey).update(n).digest('hex');
      expect(a.body).toMatchObject({ idNumberMasked: '**************1234', idNumberHash: hmac(number) });
      expect(b.body.idNumberHash).toBe(a.body.idNumberHash);
      expect(c.body).toMatchObject({ idNumberMasked: '**************567X', idNumberHash: hmac(other) });
      expect(c.body.idNumberHash).not.toBe(a.body.idNumberHash);
      // Not in the database, its log or the hearing's log, in any form.
      expect(files(dataDir).length).toBeGreaterThan(0);
      for (const text of [number, other, '19900101']) expect(holds(dataDir, text), text).toBe(false);
      expect(JSON.stringify(server.store.auditLog(id))).not.toContain('19900101');
      // The key is the server's own: in the 0600 secrets file, or HEARING_ID_KEY.
      expect((fs.statSync(path.join(dataDir, 'secrets.json')).mode & 0o777).toString(8)).toBe('600');
    } finally {
      await server.close();
    }
    // A store from before kept the full number: written there directly, then the server starts again.
    const db = new Database(path.join(dataDir, 'hearings.sqlite'));
    const legacyId = (db.prepare('SELECT id FROM participants LIMIT 1').get() as { id: string }).id;
    db.prepare('UPDATE participants SET id_number = ?, id_masked = NULL, id_hash = NULL WHERE id = ?').run(number, legacyId);
    db.close();
    expect(holds(dataDir, number)).toBe(true);
    server = await startTestServer({ dataDir });
    try {
      const row = server.store.participant(legacyId)!;
      expect(row).toMatchObject({
        idMasked: '**************1234',
        idHash: createHmac('sha256', server.secrets.idKey).update(number).digest('hex'),
      });
      expect(holds(dataDir, number)).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe('trust: the pages keep their tokens and frames to themselves', () => {
  const ctx = withServer({ frameAncestors: 'https://court.example' });

  it('every answer forbids sniffing and Referer; the pages carry a policy, framed only by the configured platform', async () => {
    const { server } = ctx;
    const { id } = await createHearing(server, [{ name: 'Party Li', role: 'party' }]);
    for (const route of ['/join', `/watch/${id}`, `/api/v1/hearings/${id}/transcript?format=html`, '/healthz']) {
      const r = await fetch(`${server.url}${route}`, { headers: { authorization: `Bearer ${server.secrets.apiKey}` } });
      expect(r.headers.get('x-content-type-options'), route).toBe('nosniff');
      expect(r.headers.get('referrer-policy'), route).toBe('no-referrer');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, route).toContain("script-src 'self'");
      expect(csp, route).toContain('frame-ancestors https://court.example');
    }
  });
});

describe('trust: keys and tokens cannot be guessed at speed', () => {
  const ctx = withServer({ authFailuresPerMinute: 5 });

  /** A REST call from another loopback address (127.0.0.2), as a second client would make it. */
  const fromOther = (url: string, key: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(url, { localAddress: '127.0.0.2', headers: { authorization: `Bearer ${key}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });

  it('past the failures allowed per minute an address is refused, a right key and token too; other addresses are not', async () => {
    const { server } = ctx;
    const { participants } = await createHearing(server, [{ name: 'Party Li', role: 'party' }]);
    const good = api(server);
    const bad = api(server, 'wrong-key-0123456789');
    for (let i = 0; i < 5; i++) expect((await bad('GET', '/api/v1/hearings')).status).toBe(401);
    expect((await good('GET', '/api/v1/hearings')).status).toBe(200); // five failures are allowed
    const refused = await bad('GET', '/api/v1/hearings');
    expect(refused.status).toBe(401);
    // The sixth failure blocks the address: the right key and a valid token are refused now as well.
    const blocked = await good('GET', '/api/v1/hearings');
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('too_many_failures');
    expect(await refusal(server.url, participants[0]!.token)).toMatchObject({ code: 'too_many_failures' });
    // Another address is served.
    expect(await fromOther(`${server.url}/api/v1/hearings`, server.secrets.apiKey)).toBe(200);
  });
});

describe('trust: behind a reverse proxy, one client guessing does not lock out the others', () => {
  // The proxy is on this machine (loopback): the client's address comes from its X-Forwarded-For.
  const ctx = withServer({ authFailuresPerMinute: 3, trustProxy: 'loopback' });

  it('the failures count against the address the proxy names, for REST and signaling alike', async () => {
    const { server } = ctx;
    const { participants } = await createHearing(server, [{ name: 'Party Li', role: 'party' }]);
    const from = (address: string) => ({ 'x-forwarded-for': address });
    const guesser = api(server, 'wrong-key-0123456789');
    for (let i = 0; i < 4; i++) expect((await guesser('GET', '/api/v1/hearings', undefined, from('203.0.113.7'))).status).toBe(401);
    // The guesser is refused now, even with the right key and a valid token...
    const right = api(server);
    expect((await right('GET', '/api/v1/hearings', undefined, from('203.0.113.7'))).status).toBe(429);
    const token = participants[0]!.token;
    const viaProxy = (address: string) =>
      new Promise<{ code?: string } | 'connected'>((resolve) => {
        const socket = io(server.url, {
          auth: { token },
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          extraHeaders: from(address),
        });
        socket.once('connect', () => {
          socket.close();
          resolve('connected');
        });
        socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
          socket.close();
          resolve({ code: error.data?.code });
        });
      });
    expect(await viaProxy('203.0.113.7')).toEqual({ code: 'too_many_failures' });
    // ...while everybody else behind the same proxy is served.
    expect((await right('GET', '/api/v1/hearings', undefined, from('198.51.100.20'))).status).toBe(200);
    expect(await viaProxy('198.51.100.20')).toBe('connected');
  });
});
