import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import type { Socket } from 'socket.io-client';
import { TokenIssuer } from '../server/http/auth.ts';
import { signalingSchemas } from '../server/signaling/schemas.ts';
import { api, createHearing, withServer } from './helpers/server.ts';
import { connect, refusal, request } from './helpers/socket.ts';

describe('signaling auth, roles and bad input', () => {
  const ctx = withServer();

  it('refuses missing, forged, expired and mismatched tokens', async () => {
    const { server } = ctx;
    const { participants } = await createHearing(server, [{ name: 'P', role: 'party' }]);
    const party = participants[0]!;
    expect(await refusal(server.url)).toMatchObject({ code: 'token_missing' });
    expect(await refusal(server.url, '')).toMatchObject({ code: 'token_missing' });
    expect(await refusal(server.url, 'not.a.jwt')).toMatchObject({ code: 'token_invalid' });

    const forged = await new SignJWT({ hid: 'x', role: 'judge' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(party.id)
      .setIssuer('hearing-media-core')
      .setAudience('hearing-participant')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('some-other-secret-that-is-long-enough-0123456789'));
    expect(await refusal(server.url, forged)).toMatchObject({ code: 'token_invalid' });

    // Tampered payload: the party's own token with the role changed to judge.
    const [h, , s] = party.token.split('.');
    const claims = JSON.parse(Buffer.from(party.token.split('.')[1]!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, role: 'judge' })).toString('base64url')}.${s}`;
    expect(await refusal(server.url, tampered)).toMatchObject({ code: 'token_invalid' });

    const issuer = new TokenIssuer(server.secrets.jwtSecret, 3600);
    const expired = await issuer.issue({ hearingId: claims.hid, participantId: party.id, role: 'party' }, -10);
    expect(await refusal(server.url, expired.token)).toMatchObject({ code: 'token_expired' });

    // Correctly signed, but naming a participant of another hearing (or a role they do not have).
    const other = await createHearing(server, [{ name: 'Q', role: 'party' }]);
    const crossed = await issuer.issue({ hearingId: other.id, participantId: party.id, role: 'party' });
    expect(await refusal(server.url, crossed.token)).toMatchObject({ code: 'not_found' });
    const promoted = await issuer.issue({ hearingId: claims.hid, participantId: party.id, role: 'judge' });
    expect(await refusal(server.url, promoted.token)).toMatchObject({ code: 'token_invalid' });

    const ok = await connect(server.url, party.token);
    expect(ok.connected).toBe(true);
    ok.close();
  });

  it('enforces roles and hearing boundaries', async () => {
    const { server } = ctx;
    const a = await createHearing(server, [
      { name: 'J', role: 'judge' },
      { name: 'P', role: 'party' },
      { name: 'V', role: 'viewer' },
    ]);
    const b = await createHearing(server, []);
    const [judge, party, viewer] = (await Promise.all(a.participants.map((p) => connect(server.url, p.token)))) as [Socket, Socket, Socket];
    for (const s of [judge, party, viewer]) expect((await request(s, 'join', {})).self).toBeDefined();

    // A producer in hearing B.
    const roomB = await server.plane.room(b.id);
    const ingest = await roomB.createPlainTransport('bot', 'send', { comedia: true });
    const producerB = await roomB.produce(
      'bot',
      ingest.id,
      'audio',
      { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 42 }] },
      'mic',
    );

    const recv = await request(party, 'createTransport', { direction: 'recv' });
    expect(recv.id).toBeTypeOf('string');
    const caps = (await request(party, 'join', {})).routerRtpCapabilities;
    const recv2 = await request(party, 'createTransport', { direction: 'recv' });
    const crossHearing = await request(party, 'consume', { transportId: recv2.id, producerId: producerB.id, rtpCapabilities: caps });
    expect(crossHearing.error.code).toBe('not_found');
    // Another participant's transport is not yours.
    const judgeRecv = await request(judge, 'createTransport', { direction: 'recv' });
    // Another participant's consumer (a real one, which its owner may resume) is not yours.
    const roomA = await server.plane.room(a.id);
    const ingestA = await roomA.createPlainTransport('bot', 'send', { comedia: true });
    const producerA = await roomA.produce(
      'bot',
      ingestA.id,
      'audio',
      { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 43 }] },
      'mic',
    );
    const judgeConsumer = await request(judge, 'consume', { transportId: judgeRecv.id, producerId: producerA.id, rtpCapabilities: caps });
    expect(judgeConsumer.id, JSON.stringify(judgeConsumer)).toBeTypeOf('string');
    expect((await request(party, 'resumeConsumer', { consumerId: judgeConsumer.id })).error.code).toBe('not_found');
    expect((await request(party, 'setPreferredLayers', { consumerId: judgeConsumer.id, spatialLayer: 0 })).error.code).toBe('not_found');
    expect(await request(judge, 'resumeConsumer', { consumerId: judgeConsumer.id })).toEqual({});
    expect(
      (
        await request(party, 'connectTransport', {
          transportId: judgeRecv.id,
          dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] },
        })
      ).error.code,
    ).toBe('not_found');

    expect((await request(viewer, 'createTransport', { direction: 'send' })).error.code).toBe('forbidden');
    expect((await request(party, 'transition', { to: 'waiting_room' })).error.code).toBe('forbidden');
    expect((await request(viewer, 'transition', { to: 'waiting_room' })).error.code).toBe('forbidden');

    const changed = new Promise((resolve) => party.once('stateChanged', resolve));
    expect(await request(judge, 'transition', { to: 'waiting_room' })).toMatchObject({
      state: 'waiting_room',
      allowedTransitions: ['open', 'closed'],
    });
    expect(await changed).toMatchObject({ state: 'waiting_room', from: 'scheduled', actor: a.participants[0]!.id });
    const invalid = await request(judge, 'transition', { to: 'debate' });
    expect(invalid.error.code).toBe('invalid_transition');

    // Closing the hearing disconnects everybody and refuses new connections.
    const gone = new Promise((resolve) => viewer.once('disconnect', resolve));
    expect((await request(judge, 'transition', { to: 'closed' })).state).toBe('closed');
    await gone;
    expect(await refusal(server.url, a.participants[1]!.token)).toMatchObject({ code: 'hearing_closed' });
    for (const s of [judge, party, viewer]) s.close();
  });

  it('1,000 malformed messages to every handler, from the roles that pass its role check, get error acks; nothing crashes', async () => {
    const { server } = ctx;
    // A judge and a lawyer between them pass the role check of every message, so each handler's own
    // validation is what answers; the bystander must notice nothing.
    const h = await createHearing(server, [
      { name: 'Fuzzer', role: 'lawyer' },
      { name: 'Bystander', role: 'judge' },
      { name: 'Fuzzing judge', role: 'judge' },
    ]);
    const fuzzer = await connect(server.url, h.participants[0]!.token);
    const bystander = await connect(server.url, h.participants[1]!.token);
    const fuzzingJudge = await connect(server.url, h.participants[2]!.token);
    const joined = await request(bystander, 'join', {});
    const bystanderSend = await request(bystander, 'createTransport', { direction: 'send' });

    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const junk = (depth = 0): unknown => {
      switch (rand(depth > 2 ? 6 : 9)) {
        case 0:
          return null;
        case 1:
          return rand(1e9) - 5e8;
        case 2:
          return 'x'.repeat(rand(3000));
        case 3:
          return rand(2) === 0;
        case 4:
          return undefined;
        case 5:
          return Number.NaN;
        case 6:
          return Array.from({ length: rand(5) }, () => junk(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: 1 + rand(4) }, () => [`k${rand(1000)}`, junk(depth + 1)]));
      }
    };
    const wrongTypes: unknown[] = [
      { direction: 'sideways' },
      { transportId: 12 },
      { transportId: bystanderSend.id, dtlsParameters: { fingerprints: [] } },
      { transportId: 'a'.repeat(1000), kind: 'audio', source: 'mic', rtpParameters: { codecs: [] } },
      { to: 'nowhere' },
      { producerId: null },
      { consumerId: {}, spatialLayer: 7 },
      { action: 'explode' },
      { participantId: 'not-a-uuid', decision: 'admit', reason: '' },
      { segmentId: '00000000-0000-4000-8000-000000000000', text: '' },
      { version: -1, keyId: 7, signature: 'zz' },
      { with: bystanderSend.id },
      JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}'),
      {
        transportId: bystanderSend.id,
        kind: 'video',
        source: 'camera',
        rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 500, clockRate: 90000 }] },
      },
    ];
    const handled = Object.keys(signalingSchemas);
    const events = [...handled, 'nonsense', 'constructor', '__proto__', 'toString'];
    const takesNothing = new Set(['join', 'ping', 'leave', 'freezeTranscript']);
    const acks = [];
    for (let i = 0; i < 1000; i++) {
      const event = events[i % events.length]!;
      let payload = rand(3) === 0 ? wrongTypes[rand(wrongTypes.length)] : junk();
      // What the server receives is JSON: {k: undefined} arrives as {}, NaN as null.
      if (payload !== undefined) payload = JSON.parse(JSON.stringify(payload) ?? 'null');
      // Messages that take an empty object: make sure theirs is not one.
      if (
        takesNothing.has(event) &&
        (payload === undefined || payload === null || (typeof payload === 'object' && Object.keys(payload as object).length === 0))
      )
        payload = { extra: i };
      // Each round over the events alternates the sender, so every message comes from both.
      const socket = Math.floor(i / events.length) % 2 === 0 ? fuzzer : fuzzingJudge;
      acks.push(
        request(socket, event, payload).then((reply) => ({ event, reply, sent: `${event} ${JSON.stringify(payload)?.slice(0, 120)}` })),
      );
    }
    const replies = await Promise.all(acks);
    expect(replies).toHaveLength(1000);
    for (const { reply, sent } of replies) {
      const why = `${sent} → ${JSON.stringify(reply).slice(0, 200)}`;
      expect(reply.error, why).toBeDefined();
      expect(typeof reply.error.code, why).toBe('string');
      expect(typeof reply.error.message, why).toBe('string');
      // `failed` is an exception nobody expected: a bug, not an answer.
      expect(reply.error.code, why).not.toBe('failed');
    }
    // Every handler was reached past its role check and refused the payload by its own validation.
    const validated = new Set(replies.filter((r) => r.reply.error.code === 'invalid_message').map((r) => r.event));
    expect(handled.filter((e) => !validated.has(e))).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // Both sockets are still connected and served; the server and its workers are healthy.
    expect(fuzzer.connected).toBe(true);
    expect(fuzzingJudge.connected).toBe(true);
    expect(bystander.connected).toBe(true);
    expect((await request(fuzzer, 'join', {})).self.participantId).toBe(h.participants[0]!.id);
    const again = await request(bystander, 'createTransport', { direction: 'recv' });
    expect(again.id).toBeTypeOf('string');
    expect(joined.routerRtpCapabilities.codecs.length).toBeGreaterThan(0);
    const health = await api(server)('GET', '/healthz');
    expect(health).toMatchObject({ status: 200, body: { ok: true, workers: { live: 2 } } });
    for (const socket of [fuzzer, fuzzingJudge, bystander]) socket.close();
  });
});
