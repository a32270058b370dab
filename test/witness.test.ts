// A witness waits apart: until the judge calls them in, nothing of the courtroom reaches them (no
// media, no transcript, no events) and they can take nothing from it; the judge sends them back after
// their testimony. Real server, real sockets, real speech transcribed in the courtroom meanwhile.
import type { Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { createHearing, withServer } from './helpers/server.ts';
import { connect, request } from './helpers/socket.ts';
import { JFK, speechIngest } from './helpers/speech.ts';
import { until } from './helpers/wait.ts';

/** Every event a socket receives, by name. */
function heard(socket: Socket): string[] {
  const events: string[] = [];
  socket.onAny((event: string) => events.push(event));
  return events;
}

describe('a witness waits apart until called in', () => {
  const ctx = withServer();

  it('hears, sees and receives nothing of the courtroom while waiting; called in, takes part; sent back, is cut off again', async () => {
    const { server } = ctx;
    const h = await createHearing(server, [
      { name: '王法官', role: 'judge' },
      { name: '李书记员', role: 'clerk' },
      { name: '张三', role: 'party' },
      { name: '李四', role: 'party' },
      { name: '王五', role: 'witness' },
    ]);
    const [judge, clerk, party, speaker, witness] = h.participants as [(typeof h.participants)[0], ...(typeof h.participants)[0][]];
    const judgeSocket = await connect(server.url, judge.token);
    const partySocket = await connect(server.url, party!.token);
    await request(judgeSocket, 'join', {});
    await request(partySocket, 'join', {});
    const partyHeard = heard(partySocket);
    const judgeHeard = heard(judgeSocket);

    // The witness joins: the reply holds nobody, no media, no transcript.
    const witnessSocket = await connect(server.url, witness!.token);
    const witnessHeard = heard(witnessSocket);
    const waiting = await request(witnessSocket, 'join', {});
    expect(waiting.waiting).toBe(true);
    expect(waiting).toMatchObject({ participants: [], producers: [], transcript: [], evidence: [] });
    expect(waiting.hearing.caseNumber).toBeTruthy();
    // The court sees the witness waiting.
    await until('the judge told the witness is waiting', () => judgeHeard.includes('participantJoined'));
    const joinedAs = (await request(judgeSocket, 'join', {})).participants.find((p: any) => p.participantId === witness!.id);
    expect(joinedAs).toMatchObject({ role: 'witness', waiting: true, online: true });

    // The courtroom goes on: the hearing opens, 李四 speaks and is transcribed, the judge mutes a party.
    const speech = await speechIngest(server, h.id, speaker!.id, JFK.file);
    for (const to of ['waiting_room', 'open']) expect((await request(judgeSocket, 'transition', { to })).error).toBeUndefined();
    await speech.play();
    await until('a transcript line in the courtroom', () => partyHeard.includes('transcript'), 60_000);
    expect((await request(judgeSocket, 'muteParticipant', { participantId: party!.id, muted: true })).error).toBeUndefined();
    const clerkSocket = await connect(server.url, clerk!.token);
    await request(clerkSocket, 'join', {});
    await until('the court heard all of it', () => ['stateChanged', 'courtMute', 'participantJoined'].every((e) => partyHeard.includes(e)));
    // The witness heard none of it, and can take nothing: no transport, no consumer, no note, no evidence.
    expect(witnessHeard).toEqual([]);
    const producerId = speech.producer.id;
    for (const [event, payload] of [
      ['createTransport', { direction: 'recv' }],
      ['createTransport', { direction: 'send' }],
      ['consume', { transportId: crypto.randomUUID(), producerId, rtpCapabilities: {} }],
    ] as const)
      expect((await request(witnessSocket, event, payload)).error?.code, event).toBe('not_called_in');
    expect((await request(witnessSocket, 'annotateTranscript', { segmentId: crypto.randomUUID(), text: 'x' })).error?.code).toBe(
      'forbidden',
    );
    const evidence = await fetch(`${server.url}/api/v1/hearings/${h.id}/evidence`, {
      headers: { authorization: `Bearer ${witness!.token}` },
    });
    expect(evidence.status).toBe(403);

    // Only the judge calls a witness, and only a witness is called.
    expect((await request(clerkSocket, 'callWitness', { participantId: witness!.id, called: true })).error?.code).toBe('forbidden');
    expect((await request(judgeSocket, 'callWitness', { participantId: party!.id, called: true })).error?.code).toBe('not_a_witness');

    // Called in: the witness's page joins the courtroom, with its media (and not the testimony before).
    expect((await request(judgeSocket, 'callWitness', { participantId: witness!.id, called: true })).error).toBeUndefined();
    await until('the witness told', () => witnessHeard.includes('calledIn'));
    await until('the court told', () => partyHeard.includes('witness'));
    const inCourt = await request(witnessSocket, 'join', {});
    expect(inCourt.waiting).toBe(false);
    expect(inCourt.producers.map((p: any) => p.producerId)).toContain(producerId);
    expect(inCourt.participants.map((p: any) => p.name)).toContain('王法官');
    expect(inCourt.transcript).toEqual([]);
    expect((await request(witnessSocket, 'createTransport', { direction: 'send' })).error).toBeUndefined();
    expect(server.plane.get(h.id)!.peerCounts(witness!.id).transports).toBe(1);

    // Sent back after testifying: their transports close, and the courtroom's events stop reaching them.
    expect((await request(judgeSocket, 'callWitness', { participantId: witness!.id, called: false })).error).toBeUndefined();
    await until('the witness sent back', () => witnessHeard.includes('sentToWait'));
    expect(server.plane.get(h.id)!.peerCounts(witness!.id).transports).toBe(0);
    expect((await request(witnessSocket, 'join', {})).waiting).toBe(true);
    const after = witnessHeard.length;
    expect((await request(judgeSocket, 'muteParticipant', { participantId: party!.id, muted: false })).error).toBeUndefined();
    await until('the court heard the unmute', () => partyHeard.filter((e) => e === 'courtMute').length === 2);
    expect(witnessHeard.slice(after)).toEqual([]);
    expect((await request(witnessSocket, 'createTransport', { direction: 'recv' })).error?.code).toBe('not_called_in');

    // All of it is in the hearing's log.
    const log = server.store.auditLog(h.id);
    expect(log.filter((e) => e.action.startsWith('witness.')).map((e) => [e.action, e.actor, e.detail.participantId])).toEqual([
      ['witness.called_in', judge.id, witness!.id],
      ['witness.sent_to_wait', judge.id, witness!.id],
    ]);
    expect(log.find((e) => e.action === 'participant.joined' && e.actor === witness!.id)?.detail.waiting).toBe(true);
    for (const s of [judgeSocket, partySocket, clerkSocket, witnessSocket]) s.close();
  }, 120_000);
});
