// Faults must not take the server down: every kind of helper process is killed at a random moment of a
// streamed, recorded, transcribed, face-checked hearing, and producers vanish in the middle of taps.
import fs from 'node:fs';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { api, createHearing } from './helpers/server.ts';
import { openJoin, withLiveCourt } from './helpers/browser.ts';
import { connect, request } from './helpers/socket.ts';
import { enroll, face } from './helpers/faces.ts';
import { newestSegment, withStreamLog } from './helpers/live.ts';
import { sleep, until } from './helpers/wait.ts';
import { verifyRecord } from '../recordings/verify.ts';
import { boundUdpPorts } from '../workers/taps/udp-ports.ts';
import type { HearingServer } from '../server/app/server.ts';

/**
 * This process's children (the server runs in the test process): pid and command line, read from /proc
 * (a few ms, where ps takes tens: quick enough to catch a process as it starts).
 */
/** The hearing's current program run, unless it is being stopped (for a step down, the slate, a rebuild). */
function currentProgramRun(server: HearingServer, hearingId: string): { ending: boolean; pid?: number } | undefined {
  const streams = (server.live as unknown as { streams: Map<string, { run: { ending: boolean; pid?: number } | null }> }).streams;
  const run = streams.get(hearingId)?.run;
  return run && !run.ending && run.pid ? run : undefined;
}

function children(): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      found.push({ pid: Number(entry), args: fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('faults do not take the server down', () => {
  const ctx = withLiveCourt();

  it('each kind of child killed mid-hearing: the server and another hearing stay up, each loss is in the record, the work resumes', async () => {
    const { server } = ctx;
    const call = api(server);
    const a = await createHearing(
      server,
      [
        { name: 'Judge Wang', role: 'judge' },
        { name: 'Party Li', role: 'party' },
      ],
      { streamable: true },
    );
    const [judge, party] = a.participants as [(typeof a.participants)[0], (typeof a.participants)[0]];
    // Enrolled, so the face process watches the party's camera; the court admits the party by hand.
    expect((await enroll(server, a.id, party.id, face('amy1'))).status).toBe(201);
    await call('POST', `/api/v1/hearings/${a.id}/transitions`, { to: 'waiting_room' });
    await openJoin(ctx.court, judge.joinUrl);
    await openJoin(ctx.party, party.joinUrl);
    await until('the face process watches the party', () => children().some((c) => c.args.includes('face-process.ts')), 30_000);
    const admitted = await call('POST', `/api/v1/hearings/${a.id}/participants/${party.id}/identity/decision`, {
      decision: 'admit',
      reason: 'ID checked by the clerk at the door',
    });
    expect(admitted.status, JSON.stringify(admitted.body)).toBe(200);
    expect((await call('POST', `/api/v1/hearings/${a.id}/transitions`, { to: 'open' })).status).toBe(200);
    for (const action of ['approve', 'start']) expect((await call('POST', `/api/v1/hearings/${a.id}/stream`, { action })).status).toBe(200);
    await until('the program is published', () => newestSegment(server, a.id), 40_000).catch(withStreamLog(server, a.id));

    // Another hearing on the other worker, with someone in it who must notice nothing.
    const b = await createHearing(server, [{ name: 'Judge Sun', role: 'judge' }]);
    const bystander: Socket = await connect(server.url, b.participants[0]!.token);
    await request(bystander, 'join', {});
    let bystanderReset = false;
    bystander.on('mediaReset', () => (bystanderReset = true));
    expect(server.plane.get(b.id)!.workerPid).not.toBe(server.plane.get(a.id)!.workerPid);
    const stillServed = async (): Promise<void> => {
      expect((await request(bystander, 'ping', {})).at).toBeTypeOf('number');
      expect((await call('GET', '/healthz')).status).toBe(200);
    };

    const log = () => server.store.auditLog(a.id);
    const currentRun = () => currentProgramRun(server, a.id);
    const manifest = () => fs.readFileSync(path.join(server.recorder.dirOf(a.id), 'manifest.jsonl'), 'utf8');
    let seed = 20261125;
    const pause = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return 300 + (seed % 1700);
    };
    const victims: { what: string; is: (c: { pid: number; args: string }) => boolean; lost: () => boolean }[] = [
      {
        // The current run's encoder, not one being stopped (for a step down, say): that one may be ended
        // by the service's own kill a moment later, and its exit is then rightly not a loss.
        what: 'the program encoder',
        is: (c) => c.pid === currentRun()?.pid,
        lost: () => log().some((e) => e.action === 'stream.encoder_exit' || e.action === 'stream.stalled'),
      },
      {
        what: 'a speech decoder',
        is: (c) => c.args.startsWith('pocketsphinx_continuous'),
        lost: () => log().some((e) => e.action === 'transcript.engine_exit'),
      },
      {
        what: 'the recorder process',
        is: (c) => c.args.includes('record/process.ts'),
        lost: () => manifest().includes('"recorder.crashed"'),
      },
      {
        what: 'the face process',
        is: (c) => c.args.includes('face-process.ts'),
        lost: () => log().some((e) => e.action === 'identity.check_failed' && String(e.detail.error).includes('face process exited')),
      },
      {
        what: 'the media worker',
        is: (c) => c.pid === server.plane.get(a.id)?.workerPid,
        lost: () => log().some((e) => e.action === 'media.worker_died'),
      },
    ];
    let lastKill = 0;
    for (const v of victims) {
      await sleep(pause());
      const victim = await until(`${v.what} running`, () => children().find(v.is), 20_000);
      process.kill(victim.pid, 'SIGKILL');
      lastKill = Date.now();
      await until(`${v.what}'s death in the hearing's log or record`, v.lost, 30_000).catch(withStreamLog(server, a.id));
      await stillServed();
    }

    // The work goes on: the program publishes again, a new speech decoder, recorder and face process run.
    await until('a program segment made after the last kill', () => newestSegment(server, a.id, lastKill + 1000), 60_000).catch(
      async (error: Error) => {
        const playlist = await (await fetch(`${server.url}/live/${a.id}/video.m3u8`)).text();
        const programs = children().filter((c) => c.args.includes('ffmpeg') && c.args.includes('hls'));
        return withStreamLog(
          server,
          a.id,
        )(
          new Error(
            `${error.message}\n${JSON.stringify(server.live.status(a.id))}\n${playlist.split('\n').slice(-6).join(' | ')}\nprograms: ${programs.map((p) => p.pid).join(',')}`,
          ),
        );
      },
    );
    await until('a speech decoder again', () => children().some((c) => c.args.startsWith('pocketsphinx_continuous')), 30_000);
    await until('the face process again', () => children().some((c) => c.args.includes('face-process.ts')), 30_000);
    await until('recording again', () => {
      const lines = manifest().trim().split('\n');
      const crashed = lines.findIndex((l) => l.includes('"recorder.crashed"'));
      return lines.slice(crashed).some((l) => l.includes('"type":"segment"'));
    });
    expect(bystanderReset).toBe(false);
    expect(bystander.connected).toBe(true);

    // Closed, the record is whole and says what was lost.
    expect((await call('POST', `/api/v1/hearings/${a.id}/transitions`, { to: 'closed' })).status).toBe(200);
    await until('the record sealed', () => log().some((e) => e.action === 'record.sealed'), 30_000);
    const record = manifest();
    for (const line of ['"recorder.crashed"', '"transcript.engine_exit"', '"media.worker_died"', '"identity.check_failed"'])
      expect(record).toContain(line);
    expect(record).toMatch(/"stream\.(encoder_exit|stalled)"/);
    const report = verifyRecord(server.recorder.dirOf(a.id), server.recordKey.publicKey);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, complete: true });
    bystander.close();
  }, 300_000);

  it('the program encoder killed while it starts: logged as an encoder exit at once, and the program comes back', async () => {
    const { server } = ctx;
    const call = api(server);
    const h = await createHearing(
      server,
      [
        { name: 'Judge Zhao', role: 'judge' },
        { name: 'Party Qian', role: 'party' },
      ],
      { streamable: true },
    );
    const [judge, party] = h.participants as [(typeof h.participants)[0], (typeof h.participants)[0]];
    await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'waiting_room' });
    const judgePage = await openJoin(ctx.court, judge.joinUrl);
    const partyPage = await openJoin(ctx.party, party.joinUrl);
    expect((await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'open' })).status).toBe(200);
    for (const action of ['approve', 'start']) expect((await call('POST', `/api/v1/hearings/${h.id}/stream`, { action })).status).toBe(200);
    await until('the program is published', () => newestSegment(server, h.id), 40_000).catch(withStreamLog(server, h.id));

    const exits = () => server.store.auditLog(h.id).filter((e) => e.action === 'stream.encoder_exit');
    // Killed by someone else while we were stopping it (for the slate, or a step down): still a loss, in the log.
    const current = await until('a program encoder running (not being replaced)', () => currentProgramRun(server, h.id));
    process.kill(current.pid!, 'SIGSTOP'); // it cannot answer the stop ('q') before it is killed
    const pausing = call('POST', `/api/v1/hearings/${h.id}/stream`, { action: 'pause' });
    await until('the service stopping that encoder', () => current.ending, 10_000);
    process.kill(current.pid!, 'SIGKILL');
    expect((await pausing).status).toBe(200);
    const lostWhileStopping = await until('the exit in the hearing log', () => exits().find((e) => e.detail.whileStopping === true), 5_000);
    expect(lostWhileStopping.detail.signal).toBe('SIGKILL');
    expect(exits().length, 'the run killed while stopping is the only loss yet').toBe(1);
    expect((await call('POST', `/api/v1/hearings/${h.id}/stream`, { action: 'start' })).status).toBe(200);

    // Paused (the slate), then started again: the new program encoder is caught before it has opened
    // its input ports (stopped, ports checked, killed). Caught too late, it runs on and the next try
    // begins; a few tries are enough on any machine (the catch takes a few ms, the start ~100 ms).
    let caught: number | undefined;
    for (let attempt = 0; attempt < 8 && caught === undefined; attempt++) {
      expect((await call('POST', `/api/v1/hearings/${h.id}/stream`, { action: 'pause' })).status).toBe(200);
      const known = new Set(children().map((c) => c.pid));
      const starting = call('POST', `/api/v1/hearings/${h.id}/stream`, { action: 'start' });
      let program: { pid: number; args: string } | undefined;
      for (const deadline = Date.now() + 10_000; !program && Date.now() < deadline; await sleep(2))
        program = children().find((c) => !known.has(c.pid) && c.args.includes('filter_complex'));
      expect(program, 'a new program encoder starts').toBeDefined();
      process.kill(program!.pid, 'SIGSTOP');
      const sdp = /-i (\S+\.sdp)/.exec(program!.args)?.[1];
      const ports = sdp && fs.existsSync(sdp) ? [...fs.readFileSync(sdp, 'utf8').matchAll(/^m=\w+ (\d+)/gm)].map((m) => Number(m[1])) : [];
      const bound = boundUdpPorts();
      if (ports.length && ports.every((p) => !bound.has(p))) {
        caught = Date.now();
        process.kill(program!.pid, 'SIGKILL');
      } else process.kill(program!.pid, 'SIGCONT');
      await starting;
    }
    expect(caught, 'the encoder was caught before it opened its ports').toBeDefined();
    const exit = await until(
      'the exit in the hearing log',
      () => exits().find((e) => e.detail.starting === true),
      // Not the 30 s an encoder is given to open its ports: the death itself ends the wait.
      5_000,
    ).catch(withStreamLog(server, h.id));
    expect(exit.detail.signal).toBe('SIGKILL');
    await until('a program segment made after the kill', () => newestSegment(server, h.id, caught! + 1000), 60_000).catch(
      withStreamLog(server, h.id),
    );
    expect(server.live.status(h.id).state).toBe('live');
    await judgePage.close();
    await partyPage.close();
    expect((await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' })).status).toBe(200);
  }, 180_000);

  it('producers closing at random moments of opens, taps and program rebuilds never take the server down', async () => {
    const { server } = ctx;
    const call = api(server);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const opus = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] };
    const vp8 = { codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }] };
    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      const h = await createHearing(server, [{ name: `Party ${round}`, role: 'party' }], { streamable: true });
      ids.push(h.id);
      const pid = h.participants[0]!.id;
      const room = await server.plane.room(h.id);
      const ingest = await room.createPlainTransport(pid, 'send', { comedia: true });
      const mic = await room.produce(pid, ingest.id, 'audio', { ...opus, encodings: [{ ssrc: 100 + round }] } as never, 'mic');
      const cam = await room.produce(pid, ingest.id, 'video', { ...vp8, encodings: [{ ssrc: 200 + round }] } as never, 'camera');
      // The opening taps every producer (record, transcript); the stream builds a program of them.
      const opening = (async () => {
        await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'waiting_room' });
        await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'open' });
        await call('POST', `/api/v1/hearings/${h.id}/stream`, { action: 'approve' });
        await call('POST', `/api/v1/hearings/${h.id}/stream`, { action: 'start' });
      })();
      await sleep(rand(400));
      (rand(2) ? mic : cam).close();
      await sleep(rand(300));
      (rand(2) ? cam : mic).close();
      await opening;
      // A producer that comes and goes while the program is rebuilt.
      const flash = await room.produce(pid, ingest.id, 'audio', { ...opus, encodings: [{ ssrc: 300 + round }] } as never, 'mic');
      await sleep(rand(1600));
      flash.close();
      await call('POST', `/api/v1/hearings/${h.id}/transitions`, { to: 'closed' });
      expect((await call('GET', '/healthz')).status).toBe(200);
    }
    // Each hearing's record still verifies; the server answers.
    for (const id of ids) {
      const dir = server.recorder.dirOf(id);
      await until('the record sealed', () => server.store.auditLog(id).some((e) => e.action === 'record.sealed'), 30_000);
      expect(verifyRecord(dir, server.recordKey.publicKey).problems).toEqual([]);
    }
  }, 180_000);
});
