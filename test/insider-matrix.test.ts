// The insider suite: every role tries every signaling message and every REST route. The table below is
// what the court expects (shared/DESIGN.md, "Roles and what each may do"), written out by hand; a
// role check that goes missing, or one that shuts out a role that should pass, fails here.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { api, createHearing, withServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { signalingSchemas } from '../server/signaling/schemas.ts';

const ROLES = ['judge', 'clerk', 'party', 'lawyer', 'interpreter', 'witness', 'viewer'] as const;
type Role = (typeof ROLES)[number];
/** Joining, pinging and leaving: a witness waiting to be called in may do these and nothing else. */
const EVERYONE: readonly Role[] = ROLES;
const ALL: readonly Role[] = ROLES.filter((r) => r !== 'witness');
const SPEAKERS: readonly Role[] = ['judge', 'clerk', 'party', 'lawyer', 'interpreter'];
const COURT: readonly Role[] = ['judge', 'clerk'];
const JUDGE: readonly Role[] = ['judge'];
const CONSULTING: readonly Role[] = ['party', 'lawyer'];

const fake = (): string => randomUUID();
const publicKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

/**
 * Each signaling message (and the variants whose role check is inside the handler) with who may send
 * it and a payload that passes validation but, where it would change the hearing, names nothing real.
 */
const SIGNALING: [label: string, event: string, payload: () => unknown, allowed: readonly Role[]][] = [
  ['join', 'join', () => ({}), EVERYONE],
  ['ping', 'ping', () => ({}), EVERYONE],
  ['leave', 'leave', () => ({}), EVERYONE],
  ['createTransport recv', 'createTransport', () => ({ direction: 'recv' }), ALL],
  ['createTransport send', 'createTransport', () => ({ direction: 'send' }), SPEAKERS],
  [
    'connectTransport',
    'connectTransport',
    () => ({ transportId: fake(), dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] } }),
    ALL,
  ],
  ['restartIce', 'restartIce', () => ({ transportId: fake() }), ALL],
  [
    'produce',
    'produce',
    () => ({
      transportId: fake(),
      kind: 'audio',
      source: 'mic',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] },
    }),
    SPEAKERS,
  ],
  ['consume', 'consume', () => ({ transportId: fake(), producerId: fake(), rtpCapabilities: {} }), ALL],
  ['resumeConsumer', 'resumeConsumer', () => ({ consumerId: fake() }), ALL],
  ['setPreferredLayers', 'setPreferredLayers', () => ({ consumerId: fake(), spatialLayer: 0 }), ALL],
  ['pauseProducer', 'pauseProducer', () => ({ producerId: fake() }), SPEAKERS],
  ['resumeProducer', 'resumeProducer', () => ({ producerId: fake() }), SPEAKERS],
  ['closeProducer', 'closeProducer', () => ({ producerId: fake() }), SPEAKERS],
  ['openConsultation', 'openConsultation', () => ({ with: fake() }), CONSULTING],
  ['answerConsultation', 'answerConsultation', () => ({ consultationId: fake(), accept: true }), CONSULTING],
  ['joinConsultation', 'joinConsultation', () => ({ consultationId: fake() }), CONSULTING],
  ['closeConsultation', 'closeConsultation', () => ({ consultationId: fake() }), CONSULTING],
  ['transition', 'transition', () => ({ to: 'adjourned' }), JUDGE],
  ['editTranscript', 'editTranscript', () => ({ segmentId: fake(), text: 'changed' }), COURT],
  ['registerSigningKey', 'registerSigningKey', () => ({ publicKey: publicKey() }), SPEAKERS],
  ['freezeTranscript', 'freezeTranscript', () => ({}), COURT],
  ['signTranscript', 'signTranscript', () => ({ version: 99, keyId: 'a'.repeat(64), signature: 'A'.repeat(64) }), SPEAKERS],
  ['placeEvidence', 'placeEvidence', () => ({ evidenceId: fake(), afterSegmentId: fake() }), COURT],
  ['stream approve', 'stream', () => ({ action: 'approve' }), JUDGE],
  ['stream stop', 'stream', () => ({ action: 'stop' }), COURT],
  ['setProtection', 'setProtection', () => ({ participantId: fake(), hidden: true }), COURT],
  ['identityDecision', 'identityDecision', () => ({ participantId: fake(), decision: 'refuse', reason: 'r' }), COURT],
  ['annotateTranscript', 'annotateTranscript', () => ({ segmentId: fake(), text: 'a note' }), SPEAKERS],
  ['muteParticipant', 'muteParticipant', () => ({ participantId: fake(), muted: true }), JUDGE],
  ['callWitness', 'callWitness', () => ({ participantId: fake(), called: true }), JUDGE],
  ['hangUpTerminal', 'hangUpTerminal', () => ({ participantId: fake() }), JUDGE],
  ['pauseRecording', 'pauseRecording', () => ({ reason: 'recess' }), COURT],
  ['resumeRecording', 'resumeRecording', () => ({ reason: 'back' }), COURT],
];

/**
 * A refusal by role (or, for a witness not called in, by being kept apart), as opposed to any other
 * answer (done, not found, invalid state...).
 */
const roleRefused = (reply: any, role: Role): boolean =>
  (reply?.error?.code === 'forbidden' && new RegExp(`^role ${role} may not`).test(reply.error.message)) ||
  (role === 'witness' && reply?.error?.code === 'not_called_in');

type Caller = Role | 'api' | 'nobody';

describe('insiders: every role × every message and route', () => {
  // Hundreds of deliberate refusals from one address: the per-address limiter (tested elsewhere) is set aside.
  const ctx = withServer({ authFailuresPerMinute: 100_000 });

  it('signaling: each message is allowed to exactly the roles the court allows', async () => {
    const { server } = ctx;
    // Every message the server handles is in the table (a new one must be added to it).
    expect(new Set(SIGNALING.map(([, e]) => e))).toEqual(new Set(Object.keys(signalingSchemas)));
    const { participants } = await createHearing(
      server,
      ROLES.map((role) => ({ name: `The ${role}`, role })),
    );
    const sockets = (await Promise.all(participants.map((p) => connect(server.url, p.token)))) as Socket[];
    const table: Record<string, Record<string, 'allow' | 'deny'>> = {};
    const expected: typeof table = {};
    for (const [label, event, payload, allowed] of SIGNALING) {
      table[label] = {};
      expected[label] = {};
      for (const [i, role] of ROLES.entries()) {
        const reply = await request(sockets[i]!, event, payload());
        // Past the role check, validation must pass too: the payloads are well formed.
        expect(reply?.error?.code, `${label} by ${role}: ${JSON.stringify(reply).slice(0, 200)}`).not.toBe('invalid_message');
        table[label]![role] = roleRefused(reply, role) ? 'deny' : 'allow';
        expected[label]![role] = allowed.includes(role) ? 'allow' : 'deny';
      }
    }
    expect(table).toEqual(expected);
    for (const s of sockets) s.close();
  });

  it('REST: the platform’s routes take only its key; evidence takes the parties and the court; nobody gets in without credentials', async () => {
    const { server } = ctx;
    const call = api(server);
    const { id, participants } = await createHearing(
      server,
      ROLES.map((role) => ({ name: `The ${role}`, role })),
    );
    const target = participants.find((p) => p.role === 'lawyer')!.id;
    const tokens = Object.fromEntries(participants.map((p) => [p.role, p.token])) as Record<Role, string>;
    const PLATFORM: readonly Caller[] = ['api'];
    const EVIDENCE: readonly Caller[] = ['api', ...SPEAKERS];
    const EVERYONE: readonly Caller[] = ['api', ...ROLES, 'nobody'];
    // Bodies are invalid on purpose where a route would change something: past the credentials check,
    // the answer is a 400, not a change.
    const ROUTES: [method: string, path: string, body: unknown, allowed: readonly Caller[]][] = [
      ['POST', '/api/v1/hearings', { nonsense: true }, PLATFORM],
      ['GET', '/api/v1/hearings', undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/participants`, { nonsense: true }, PLATFORM],
      ['PUT', `/api/v1/hearings/${id}/participants/${target}/represents`, { nonsense: true }, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/participants/${fake()}/token`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/transitions`, { to: 'nowhere' }, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/events`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/transcript`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/transcript/${fake()}/history`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/participants/${target}/reference-photo`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/participants/${target}/identity`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/participants/${target}/identity/frame`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/participants/${target}/identity/decision`, { nonsense: true }, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/stream`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/stream`, { action: 'nonsense' }, PLATFORM],
      ['PUT', `/api/v1/hearings/${id}/stream/streamable`, { streamable: 'nonsense' }, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/participants/${target}/protection`, { nonsense: true }, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/record`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/record/verify`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/record/export`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/record/review`, { nonsense: true }, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/record/review`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/sources`, { nonsense: true }, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/sources`, undefined, PLATFORM],
      ['GET', `/api/v1/hearings/${id}/sources/${fake()}`, undefined, PLATFORM],
      ['DELETE', `/api/v1/hearings/${id}/sources/${fake()}`, undefined, PLATFORM],
      ['POST', `/api/v1/hearings/${id}/evidence`, undefined, EVIDENCE],
      ['GET', `/api/v1/hearings/${id}/evidence`, undefined, EVIDENCE],
      ['GET', `/api/v1/hearings/${id}/evidence/${fake()}`, undefined, EVIDENCE],
      // Public by design: the API description, the record's public key, health and metrics (the
      // operator's firewall keeps these to the court's network), the join page and the public stream.
      ['GET', '/api/v1/openapi.json', undefined, EVERYONE],
      ['GET', '/api/v1/record-key', undefined, EVERYONE],
      ['GET', '/healthz', undefined, EVERYONE],
      ['GET', '/metrics', undefined, EVERYONE],
      ['GET', '/join', undefined, EVERYONE],
      ['GET', `/watch/${id}`, undefined, EVERYONE],
      ['GET', `/live/${id}/index.m3u8`, undefined, EVERYONE],
      // The operator's: the cluster's nodes (409 on a server alone), and draining (last: it drains this server).
      ['GET', '/api/v1/cluster', undefined, PLATFORM],
      ['POST', '/api/v1/admin/adopt', { nonsense: true }, PLATFORM],
      ['POST', '/api/v1/admin/drain', undefined, PLATFORM],
    ];
    const callers: Caller[] = ['api', ...ROLES, 'nobody'];
    const table: Record<string, Record<string, string>> = {};
    const expected: typeof table = {};
    for (const [method, route, body, allowed] of ROUTES) {
      const key = `${method} ${route.replace(id, ':id').replace(target, ':pid')}`;
      table[key] = {};
      expected[key] = {};
      for (const caller of callers) {
        const credential = caller === 'api' ? server.secrets.apiKey : caller === 'nobody' ? undefined : tokens[caller];
        const r = await fetch(`${server.url}${route}`, {
          method,
          headers: {
            ...(credential ? { authorization: `Bearer ${credential}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        // Whatever the answer, it is JSON or the resource: never a server error.
        expect(r.status, `${key} as ${caller}`).toBeLessThan(500);
        table[key]![caller] = r.status === 401 || r.status === 403 ? 'deny' : 'allow';
        expected[key]![caller] = allowed.includes(caller) ? 'allow' : 'deny';
        await r.arrayBuffer();
      }
    }
    expect(table).toEqual(expected);
    // None of it changed the hearing: still scheduled, its participants as created.
    const after = await call('GET', `/api/v1/hearings/${id}`);
    expect(after.body.state).toBe('scheduled');
    expect(after.body.participants).toHaveLength(ROLES.length);
  });
});
