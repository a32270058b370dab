import { describe, expect, it } from 'vitest';
import { api, createHearing, openHearing } from './helpers/server.ts';
import { consultationRoomKey } from '../workers/media/plane.ts';
import { twoPartyHearing, waitForMediaFrom, withServerAndBrowser } from './helpers/browser.ts';
import { until } from './helpers/wait.ts';
import { connect, request } from './helpers/socket.ts';

describe('mediasoup worker death mid-hearing', () => {
  const ctx = withServerAndBrowser();

  it('the hearing recovers on a new worker, clients reconnect by themselves, and the death is in the log', async () => {
    const { server } = ctx;
    const { id, judge, party, judgePage, partyPage } = await twoPartyHearing(server, ctx.browser);

    // A second hearing lands on the other (least-loaded) worker and must not notice anything.
    const other = await createHearing(server, [{ name: 'Bystander', role: 'judge' }]);
    const bystander = await connect(server.url, other.participants[0]!.token);
    await request(bystander, 'join', {});
    const otherRoom = server.plane.get(other.id)!;
    let bystanderReset = false;
    bystander.on('mediaReset', () => (bystanderReset = true));

    const room = server.plane.get(id)!;
    const deadPid = room.workerPid;
    expect(otherRoom.workerPid).not.toBe(deadPid);
    process.kill(deadPid, 'SIGKILL');

    const died = await until('worker death event', async () => {
      const { body } = await api(server)('GET', `/api/v1/hearings/${id}/events`);
      return body.events.find((e: { action: string }) => e.action === 'media.worker_died');
    });
    expect(died.detail).toMatchObject({ deadPid, recovered: true });
    expect(died.detail.newPid).not.toBe(deadPid);

    // Both browsers rejoin by themselves and media flows again, through the new router.
    for (const page of [judgePage, partyPage]) {
      await until('rejoin', () => page.evaluate(() => (window as any).hearingClient.state().joins >= 2));
    }
    await waitForMediaFrom(judgePage, party.id);
    await waitForMediaFrom(partyPage, judge.id);
    const rebuilt = server.plane.get(id)!;
    expect(rebuilt).not.toBe(room);
    expect(rebuilt.workerPid).toBe(died.detail.newPid);
    expect(rebuilt.producers()).toHaveLength(4);

    const { body } = await api(server)('GET', `/api/v1/hearings/${id}/events`);
    const rejoins = body.events.filter((e: { action: string; detail: { rejoin?: boolean } }) => e.action === 'participant.joined');
    expect(rejoins.length).toBeGreaterThanOrEqual(4);

    expect(await api(server)('GET', '/healthz')).toMatchObject({ status: 200, body: { workers: { live: 2, total: 2 } } });
    expect(server.plane.get(other.id)).toBe(otherRoom);
    expect(bystanderReset).toBe(false);
    expect(
      (await api(server)('GET', `/api/v1/hearings/${other.id}/events`)).body.events.some(
        (e: { action: string }) => e.action === 'media.worker_died',
      ),
    ).toBe(false);
    bystander.close();
  });

  it('a worker dying under a consultation ends it for both members (back to the courtroom), logged in the hearing', async () => {
    const { server } = ctx;
    const h = await openHearing(server, [
      { name: 'Party Li', role: 'party' },
      { name: 'Lawyer Zhao', role: 'lawyer' },
    ]);
    const [party, lawyer] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
    const partySocket = await connect(server.url, party.token);
    const lawyerSocket = await connect(server.url, lawyer.token);
    try {
      await request(partySocket, 'join', {});
      await request(lawyerSocket, 'join', {});
      const notices: unknown[] = [];
      for (const s of [partySocket, lawyerSocket]) s.on('consultationClosed', (n: unknown) => notices.push(n));
      const { consultationId } = await request(partySocket, 'openConsultation', { with: lawyer.id });
      expect(consultationId).toMatch(/^[0-9a-f-]{36}$/);
      const deadPid = server.plane.get(consultationRoomKey(consultationId))!.workerPid;
      process.kill(deadPid, 'SIGKILL');
      await until('both members told the consultation ended', () => notices.length >= 2, 15_000);
      expect(notices).toEqual([
        { consultationId, reason: 'media worker died' },
        { consultationId, reason: 'media worker died' },
      ]);
      const events = (await api(server)('GET', `/api/v1/hearings/${h.id}/events`)).body.events as {
        action: string;
        detail: Record<string, unknown>;
      }[];
      expect(events.find((e) => e.action === 'media.worker_died')?.detail).toMatchObject({ consultationId, deadPid });
      expect(events.find((e) => e.action === 'consultation.closed')?.detail).toMatchObject({ consultationId, reason: 'media worker died' });
      // Nothing is left of the consultation's room, and the two may consult again on a live worker.
      await until('no consultation room', () => server.plane.get(consultationRoomKey(consultationId)) === undefined);
      const again = await request(lawyerSocket, 'openConsultation', { with: party.id });
      expect(again.consultationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(again.consultationId).not.toBe(consultationId);
    } finally {
      partySocket.close();
      lawyerSocket.close();
    }
  });
});
