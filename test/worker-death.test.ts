import { describe, expect, it } from 'vitest';
import { api, createHearing } from './helpers/server.ts';
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
    expect((await api(server)('GET', `/api/v1/hearings/${other.id}/events`)).body.events.some((e: { action: string }) => e.action === 'media.worker_died')).toBe(false);
    bystander.close();
  });
});
