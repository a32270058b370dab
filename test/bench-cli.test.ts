import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../benchmarks/cli.ts';
import { Histogram } from '../benchmarks/lib/histogram.ts';
import { barChartSvg, writeReport } from '../benchmarks/lib/report.ts';
import { forwardingScenario } from '../benchmarks/forwarding/scenario.ts';
import { cpuSecondsOf, machineInfo, trackCpu } from '../benchmarks/lib/proc.ts';
import { spawn } from 'node:child_process';
import { lossScenario, type LossRow } from '../benchmarks/loss/scenario.ts';
import { reachScenario } from '../benchmarks/reach/scenario.ts';
import { brokenLimits, DEFAULT_STOP_RULE, hearingScenario, serverPart, type StepFigures } from '../benchmarks/hearing/scenario.ts';
import { peerScenario, type PeerRow } from '../benchmarks/peer/scenario.ts';
import { sipScenario } from '../benchmarks/sip/scenario.ts';
import { clusterScenario } from '../benchmarks/cluster/scenario.ts';
import { botsScenario } from '../benchmarks/bots/scenario.ts';
import { withServer } from './helpers/server.ts';
import { until } from './helpers/wait.ts';

describe('benchmark CLI', () => {
  it('parses scenarios and options, and rejects bad ones with every problem named', () => {
    const o = parseBenchArgs(['forwarding', '--hearings', '3', '--sweep', '100,200', '--audio-only']);
    expect(o).toMatchObject({ scenario: 'forwarding', hearings: 3, sweep: [100, 200], audioOnly: true, publishers: 3, seconds: 10 });
    expect(parseBenchArgs(['all', '--sweep', 'none']).sweep).toEqual([]);
    expect(parseBenchArgs(['transcription', '--asr-speakers', '1,3', '--asr-model', '/m.bin'])).toMatchObject({
      asrSpeakers: [1, 3],
      asrModel: '/m.bin',
    });
    expect(parseBenchArgs(['recording', '--record-steps', '10,20'])).toMatchObject({ recordSteps: [10, 20] });
    expect(
      parseBenchArgs([
        'hearing',
        '--target',
        'https://court.example',
        '--api-key',
        'k'.repeat(20),
        '--hearings',
        '20',
        '--participants',
        '6',
      ]),
    ).toMatchObject({ target: 'https://court.example', hearingCount: 20, participants: 6, browsers: 2 });
    expect(parseBenchArgs(['hearing']).hearingCount).toBe(2);
    expect(() => parseBenchArgs(['hearing', '--target', 'not a url'])).toThrow(/--target/);
    expect(parseBenchArgs(['hearing', '--participants', '6', '--bots', '5']).bots).toBe(5);
    expect(() => parseBenchArgs(['hearing', '--participants', '3', '--bots', '3'])).toThrow(/--bots: 3 of 3 participants/);
    expect(() => parseBenchArgs(['hearing', '--bots', 'many'])).toThrow(/--bots/);
    expect(parseBenchArgs(['hearing']).botReceive).toBe('headers');
    expect(parseBenchArgs(['hearing', '--bot-receive', 'decrypt']).botReceive).toBe('decrypt');
    expect(() => parseBenchArgs(['hearing', '--bot-receive', 'psychic'])).toThrow(/--bot-receive/);
    expect(parseBenchArgs(['bots'])).toMatchObject({ botHearings: [2, 6], botSeconds: 20 });
    expect(parseBenchArgs(['bots', '--bot-hearings', '1,3'])).toMatchObject({ botHearings: [1, 3] });
    expect(() => parseBenchArgs(['bots', '--bot-hearings', '0'])).toThrow(/--bot-hearings/);
    expect(parseBenchArgs(['livestream', '--live-steps', '1,2'])).toMatchObject({ liveSteps: [1, 2], liveSeconds: 15 });
    expect(parseBenchArgs(['faces', '--face-rounds', '2']).faceRounds).toBe(2);
    expect(parseBenchArgs(['loss', '--loss-levels', '5,10', '--rtt-ms', '50'])).toMatchObject({
      lossLevels: [5, 10],
      rttMs: 50,
      jitterMs: 10,
      lossSeconds: 20,
    });
    expect(() => parseBenchArgs(['loss', '--loss-levels', '90'])).toThrow(/--loss-levels: at most 50 %/);
    expect(() => parseBenchArgs(['recording', '--record-steps', 'x'])).toThrow(/--record-steps/);
    expect(() => parseBenchArgs([])).toThrow(/usage/);
    expect(() => parseBenchArgs(['teleport'])).toThrow(/scenario/);
    expect(() => parseBenchArgs(['forwarding', '--hearings', '0', '--seconds', 'x'])).toThrow(
      /--hearings.*--seconds|--seconds.*--hearings/,
    );
    expect(() => parseBenchArgs(['forwarding', '--sweep', '1,a'])).toThrow(/--sweep/);
    expect(() => parseBenchArgs(['forwarding', '--bogus', '1'])).toThrow();
    expect(parseBenchArgs(['reach'])).toMatchObject({ reachRounds: 5, reachPaths: ['direct', 'iceTcp', 'turnUdp', 'turnTcp', 'turnTls'] });
    expect(parseBenchArgs(['reach', '--reach-paths', 'direct,turnTls', '--reach-rounds', '2'])).toMatchObject({
      reachRounds: 2,
      reachPaths: ['direct', 'turnTls'],
    });
    expect(() => parseBenchArgs(['reach', '--reach-paths', 'direct,pigeon'])).toThrow(/--reach-paths/);
    expect(parseBenchArgs(['peer'])).toMatchObject({ participants: 3, peerSeconds: 20, peerLoss: [0, 5] });
    expect(parseBenchArgs(['peer', '--peer-loss', '0', '--peer-seconds', '5'])).toMatchObject({ peerLoss: [0], peerSeconds: 5 });
    expect(() => parseBenchArgs(['peer', '--peer-loss', '60'])).toThrow(/--peer-loss: at most 50 %/);
    expect(parseBenchArgs(['sip'])).toMatchObject({ sipTerminals: 4, sipSeconds: 15 });
    expect(() => parseBenchArgs(['sip', '--sip-terminals', '0'])).toThrow(/--sip-terminals/);
  });

  it('tells the server’s processes apart by what they run', async () => {
    // Stand-ins named as the server starts its children (`exec -a` sets what /proc/<pid>/cmdline says).
    const named = (argv0: string) => spawn('bash', ['-c', `exec -a "${argv0}" sleep 30`], { stdio: 'ignore' });
    const children = {
      recorder: named('/usr/bin/node --import tsx /srv/hearing/workers/record/process.ts'),
      asr: named('ffmpeg -f sdp -i /tmp/asr-AL662H/speaker.sdp'),
      faces: named('/usr/bin/node /srv/hearing/workers/identity/face-process.ts'),
      other: named('/usr/bin/tar -cf -'),
    };
    try {
      await until(
        'the stand-ins started',
        () =>
          Object.values(children).every(
            (c) => fs.existsSync(`/proc/${c.pid}/cmdline`) && fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').length > 6,
          ) || undefined,
      );
      for (const [part, child] of Object.entries(children)) expect(serverPart(child.pid!), part).toBe(part);
      expect(serverPart(process.pid)).toBe('signaling');
    } finally {
      for (const child of Object.values(children)) child.kill();
    }
  });

  it('counts the CPU of processes that start and exit while it measures (a replaced encoder), never less than nothing', async () => {
    // Each child works 0.7 s and says how much CPU it used in all (its own count, at exit).
    const busy = () => {
      const child = spawn(
        process.execPath,
        ['-e', 'const t = Date.now(); while (Date.now() - t < 700); const u = process.cpuUsage(); console.log((u.user + u.system) / 1e6)'],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d));
      return { child, used: new Promise<number>((resolve) => child.once('exit', () => resolve(Number(out)))) };
    };
    const children = [busy()];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const live = () => children.filter(({ child }) => child.exitCode === null && child.signalCode === null).map(({ child }) => child.pid!);
    const before = cpuSecondsOf(live());
    const cpu = trackCpu(live, 100);
    children.push(busy());
    const [first, second] = await Promise.all(children.map((c) => c.used));
    const total = cpu.stop();
    // What the first used after the start, and all the second used; less what each did after its last
    // reading (up to 0.1 s each), and /proc's 10 ms ticks.
    const expected = first! - before + second!;
    expect(expected).toBeGreaterThan(0.5);
    expect(total).toBeGreaterThan(expected - 0.25);
    expect(total).toBeLessThan(expected + 0.05);
    // Read only at both ends, both gone by the end: what the first had used is subtracted.
    expect(cpuSecondsOf(live()) - before).toBeLessThan(0);
  });

  it('computes latency quantiles from the histogram', () => {
    const h = new Histogram();
    for (let i = 1; i <= 1000; i++) h.add(i); // 1..1000 µs
    // Upper bucket edges (10 µs buckets): the median 500 µs sits in [500, 510).
    expect(h.quantile(0.5)).toBe(510);
    expect(h.quantile(0.99)).toBe(1000);
    expect(h.max).toBe(1000);
    const other = new Histogram();
    other.add(50_000);
    h.merge(other);
    expect(h.total).toBe(1001);
    expect(h.quantile(1)).toBe(50_010);
  });

  it('writes JSON, markdown and SVG reports', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
    const outcome = {
      summary: { cpuRatioVsBare: 1.01 },
      targets: [{ name: 'cpuRatioVsBare', value: 1.01, target: '<= 1.05', ok: true }],
      samples: { runs: [] },
      table: {
        columns: ['system', 'cpu'],
        rows: [
          ['bare', 1],
          ['ours', 1.01],
        ],
      },
      chart: {
        title: 'CPU <per> packet',
        bars: [
          { label: 'bare', value: 1 },
          { label: 'ours', value: 1.01 },
        ],
      },
    };
    const files = writeReport(
      dir,
      'forwarding',
      outcome,
      { cpus: 2, cpuModel: 'x', memoryGiB: 1, node: 'v20', kernel: 'k' },
      new Date('2026-11-23T10:00:00Z'),
    );
    expect(path.basename(files.json)).toBe('forwarding-2026-11-23T10-00-00-000Z.json');
    expect(JSON.parse(fs.readFileSync(files.json, 'utf8'))).toMatchObject({ scenario: 'forwarding', summary: { cpuRatioVsBare: 1.01 } });
    const md = fs.readFileSync(files.markdown, 'utf8');
    expect(md).toContain('| ours | 1.01 |');
    expect(md).toContain('| cpuRatioVsBare | 1.01 | <= 1.05 | met |');
    const svg = barChartSvg(outcome.chart);
    expect(svg).toContain('CPU &lt;per&gt; packet');
    expect((svg.match(/<rect /g) ?? []).length).toBe(3);
  });

  it('smoke: a short forwarding run loses nothing and reports the baselines beside ours', async () => {
    const outcome = await forwardingScenario(
      { hearings: 2, publishers: 2, subscribers: 3, seconds: 2, workers: 2, video: true, sweep: [100], sweepSeconds: 1, receivers: 1 },
      () => undefined,
    );
    const { runs, sweep } = outcome.samples as { runs: any[]; sweep: any[] };
    expect(runs.map((r) => r.system)).toEqual(['relay', 'bare', 'ours', 'server', 'span']);
    for (const r of [...runs, ...sweep]) {
      expect(r.sentPackets).toBeGreaterThan(0);
      expect(r.expectedDeliveries).toBeGreaterThan(0);
      expect(r.delivered, r.system).toBe(r.expectedDeliveries);
      expect(r.lost).toBe(0);
      expect(r.duplicates).toBe(0);
      expect(r.latencyUs.p50).toBeGreaterThan(0);
      expect(r.cpuSeconds).toBeGreaterThanOrEqual(0);
    }
    // 2 hearings x 2 publishers x (audio + video) = 8 producers; each hearing: 3 subscribers x 4 producers.
    expect(runs[2].producers).toBe(8);
    expect(runs[2].consumers).toBe(24);
    // The whole server (its own process: REST, signaling, the hearings opened over REST) forwards the same,
    // and its CPU counts its own process beside the media workers.
    expect(runs[3].consumers).toBe(24);
    expect(runs[3].processes).toBeGreaterThanOrEqual(3);
    expect(runs[2].processes).toBe(2);
    // The same hearings spanning two nodes (two processes, a PipeTransport each): every consumer on both.
    expect(runs[4].consumers).toBe(24);
    expect(sweep[0].consumers).toBe(100);
    expect(outcome.summary).toMatchObject({ lostPackets: 0, spanLostPackets: 0, maxConsumersZeroLoss: 100 });
    expect(outcome.summary.cpuRatioVsBare).toBeGreaterThan(0);
    expect(outcome.summary).toMatchObject({ mediaPlane: { lostPackets: 0 } });
    const files = writeReport(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-')), 'forwarding', outcome, machineInfo());
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('| bare |');
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('| ours, whole server |');
  });

  it('smoke: a short loss run impairs the publisher only, repairs video and sound with NACK, and reports the 0 % baseline and FEC-only sound beside it', async () => {
    const outcome = await lossScenario({ levels: [10], fecOnly: true, seconds: 6, rttMs: 100, jitterMs: 10 }, () => undefined);
    const [baseline, lossy, fecOnly] = (outcome.samples as { rows: LossRow[] }).rows;
    expect(baseline).toMatchObject({
      lossPct: 0,
      uplinkRtpDropped: 0,
      serverPacketsLost: 0,
      serverVideoNeverReceived: 0,
      recordVideoGapPackets: 0,
      recordAudioGapPackets: 0,
      recordVideoDecodeErrors: 0,
    });
    expect(baseline!.uplinkRtpPackets).toBeGreaterThan(300);
    expect(baseline!.subscriberFps).toBeGreaterThan(5);
    expect(baseline!.recordVideoFrames).toBeGreaterThan(50);
    const dropped = lossy!.uplinkRtpDropped / lossy!.uplinkRtpPackets;
    expect(dropped, 'the relay drops about 10 % of the uplink').toBeGreaterThan(0.04);
    expect(dropped).toBeLessThan(0.18);
    expect(lossy!.serverPacketsRepaired, 'NACK repairs reach the server').toBeGreaterThan(0);
    // The microphone's lost packets are asked for again too (Opus NACK) — and not on the FEC-only server.
    expect(lossy!.audioRepair).toBe('nack+fec');
    expect(lossy!.serverAudioRepaired, 'lost sound resent on NACK').toBeGreaterThan(0);
    expect(fecOnly).toMatchObject({ lossPct: 10, audioRepair: 'fec', serverAudioRepaired: 0 });
    expect(fecOnly!.uplinkRtpDropped).toBeGreaterThan(0);
    expect(lossy!.recordVideoFrames, `the record under loss: ${JSON.stringify(lossy)}`).toBeGreaterThan(0);
    expect(lossy!.subscriberFps).toBeGreaterThan(0);
    // The targets are computed from what was measured: the record's video gaps (plus, under loss, frames
    // the decoder could not build), met only at zero.
    expect(outcome.targets.map((t) => [t.value, t.ok])).toEqual([
      [baseline!.recordVideoGapPackets, baseline!.recordVideoGapPackets === 0],
      [lossy!.recordVideoGapPackets + lossy!.recordVideoDecodeErrors, lossy!.recordVideoGapPackets + lossy!.recordVideoDecodeErrors === 0],
      [lossy!.recordAudioGapPackets, lossy!.recordAudioGapPackets === 0],
    ]);
  }, 120_000);

  it('smoke: a join through TURN/TLS takes that path, with the CPU coturn spends per relayed Mbit/s', async () => {
    const outcome = await reachScenario({ paths: ['turnTls'], rounds: 1, holdSeconds: 3 }, () => undefined);
    const summary = outcome.summary as Record<
      string,
      {
        joins: number;
        firstFrameMsP50: number;
        wrongPath: number;
        failures: number;
        relayedMbitPerS?: number;
        coturnCpuPctPerMbit?: number;
      }
    >;
    expect(Object.keys(summary)).toEqual(['turnTls']);
    expect(summary.turnTls).toMatchObject({ joins: 1, wrongPath: 0, failures: 0 });
    expect(summary.turnTls!.firstFrameMsP50).toBeGreaterThan(0);
    // The relayed call carried the judge's and the party's media through coturn: more than sound alone.
    expect(summary.turnTls!.relayedMbitPerS).toBeGreaterThan(0.1);
    expect(summary.turnTls!.coturnCpuPctPerMbit).toBeGreaterThan(0);
    expect(outcome.targets.every((t) => t.ok)).toBe(true);
  }, 120_000);

  it('smoke: a ramp of 2 hearings, a browser and 11 bots (in their own processes): every stream reaches every bot at each step, their CPU apart', async () => {
    // Hearing 1: a judge in Chromium and 5 bots; hearing 2: 6 bots. The smoke checks that each step is
    // measured and that every stream arrives and every ping is answered, not what the machine holds: loss
    // and round-trip time are reported but left out of its rule (a busy CI machine lost 13 % at the second
    // step once, and in two clean-clone runs the step broke a 50 % / 5 s rule). The rule itself is tested below.
    const outcome = await hearingScenario(
      {
        hearings: 2,
        participants: 6,
        bots: 5,
        pages: 1,
        browsers: 1,
        seconds: 4,
        ramp: true,
        stop: { maxLossPct: 100, maxRttMsP95: 600_000 },
      },
      () => undefined,
    );
    const summary = outcome.summary as {
      joined: number;
      failures: number;
      bots: Record<string, unknown> & { videoFrames: number; cpuPctPerBot: number };
      steps: StepFigures[];
      ramp: { held: unknown; stoppedAt: unknown };
      serverProcesses: Record<string, { cpuPctPerParticipant: number }> | null;
    };
    // A failed join says why (CI stop 29: one failure, its reason not shown).
    expect(summary, JSON.stringify((outcome.samples as { failures: string[] }).failures)).toMatchObject({ joined: 1, failures: 0 });
    const why = JSON.stringify(summary.steps.map((s) => ({ hearings: s.hearings, broken: (s as { broken?: string[] }).broken })));
    expect(
      summary.steps.map((s) => [s.hearings, s.participants, s.failedJoins, s.streamsMissing, s.rttFailed]),
      why,
    ).toEqual([
      [1, 6, 0, 0, 0],
      [2, 12, 0, 0, 0],
    ]);
    for (const step of summary.steps) {
      expect(step.lossPct, why).not.toBeNull();
      expect(step.rttMsP95).toBeGreaterThan(0);
      expect(step.serverCpuPct).toBeGreaterThan(0);
      expect(step.botCpuPct).toBeGreaterThan(0);
      // The machine did at least what the server and the bots did (both within it).
      expect(step.machineCpuPct).toBeGreaterThanOrEqual(step.serverCpuPct! + step.botCpuPct! - 5);
      // The server's CPU by part: its own process, its 2 media workers and the recorder each worked;
      // nothing transcribed (off); the parts add up to the whole.
      const split = step.server!;
      expect(split.signaling).toMatchObject({ processes: 1 });
      expect(split.media.processes).toBe(2);
      expect(split.recorder.processes).toBe(1);
      expect(split.asr.processes).toBe(0);
      for (const part of ['signaling', 'media', 'recorder'] as const) {
        expect(split[part].cpuPct, part).toBeGreaterThan(0);
        expect(split[part].pssMiB, part).toBeGreaterThan(5);
      }
      const sum = Object.values(split).reduce((n, p) => n + p.cpuPct, 0);
      expect(Math.abs(sum - step.serverCpuPct!)).toBeLessThan(0.5);
    }
    expect(summary.serverProcesses!.media!.cpuPctPerParticipant).toBeGreaterThan(0);
    expect(summary.ramp).toMatchObject({ held: { hearings: 2, participants: 12 }, stoppedAt: null });
    // 11 bots, each receiving the 5 others' sound and picture in its hearing, in the last step's hold.
    expect(summary.bots).toMatchObject({
      joined: 11,
      refused: 0,
      streamsExpected: 110,
      streamsReceived: 110,
      processes: 2,
      notConnected: [],
    });
    expect(summary.bots.videoFrames).toBeGreaterThan(11 * 5 * 20);
    expect(summary.bots.cpuPctPerBot).toBeGreaterThan(0);
    expect(outcome.targets.every((t) => t.ok)).toBe(true);
  }, 180_000);

  it('smoke: what a bot costs, reading through werift and from the headers, in one run: both receive every stream, and the headers cost less', async () => {
    const outcome = await botsScenario({ hearings: [1], participants: 3, seconds: 3 }, () => undefined);
    const s = outcome.summary as {
      cpuPctPerBot: { headers: number; decrypt: number };
      cpuRatioHeadersVsDecrypt: number;
      paths: { receive: string; bots: number; packetsInPerBotPerS: number; streamsMissing: number; usPerPacket: number }[];
    };
    expect(s.paths.map((p) => [p.receive, p.bots, p.streamsMissing])).toEqual([
      ['decrypt', 3, 0],
      ['headers', 3, 0],
    ]);
    // 2 others' sound (50 packets/s) and picture each: well over 100 packets a second per bot.
    for (const p of s.paths) expect(p.packetsInPerBotPerS, p.receive).toBeGreaterThan(100);
    expect(s.cpuPctPerBot.headers).toBeGreaterThan(0);
    expect(s.cpuRatioHeadersVsDecrypt).toBeLessThan(1);
    expect(outcome.targets.map((t) => t.name)).toContain('bots per core (reading headers, kept up)');
  }, 120_000);

  it('a ramp stops at the first step that breaks its rule, and adds no hearing after it', async () => {
    // Bots only (no browser); a round-trip limit no signaling meets.
    const outcome = await hearingScenario(
      {
        hearings: 3,
        participants: 3,
        bots: 2,
        pages: 0,
        browsers: 1,
        seconds: 2,
        ramp: true,
        stop: { maxLossPct: 100, maxRttMsP95: 0.001 },
      },
      () => undefined,
    );
    const summary = outcome.summary as {
      steps: (StepFigures & { broken: string[] })[];
      ramp: Record<string, unknown>;
      bots: { joined: number };
    };
    expect(summary.steps).toHaveLength(1);
    expect(summary.steps[0]!.broken).toEqual([expect.stringMatching(/^round trip p95 [\d.]+ ms > 0.001 ms$/)]);
    expect(summary.ramp).toMatchObject({ held: null, stoppedAt: { hearings: 1 } });
    expect(summary.bots.joined).toBe(3);
  }, 120_000);

  it('the stop rule: a failed join, loss over the limit, an unanswered ping, a round trip over the limit, a missing stream', () => {
    const held: StepFigures = {
      hearings: 2,
      participants: 12,
      failedJoins: 0,
      lossPct: 0,
      rttMsP50: 10,
      rttMsP95: 200,
      rttFailed: 0,
      serverCpuPct: 30,
      server: null,
      botCpuPct: 60,
      machineCpuPct: 150,
      streamsMissing: 0,
      freezes: 0,
      udpReceiveBufferDrops: 0,
    };
    expect(brokenLimits(held, DEFAULT_STOP_RULE)).toEqual([]);
    expect(brokenLimits({ ...held, lossPct: null }, DEFAULT_STOP_RULE)).toEqual([]);
    expect(brokenLimits({ ...held, failedJoins: 1 }, DEFAULT_STOP_RULE)).toEqual(['1 failed join']);
    expect(brokenLimits({ ...held, lossPct: 0.01 }, DEFAULT_STOP_RULE)).toEqual(['loss 0.01 % > 0 %']);
    expect(brokenLimits({ ...held, lossPct: 0.5 }, { maxLossPct: 1, maxRttMsP95: 200 })).toEqual([]);
    expect(brokenLimits({ ...held, rttMsP95: 200.1 }, DEFAULT_STOP_RULE)).toEqual(['round trip p95 200.1 ms > 200 ms']);
    expect(brokenLimits({ ...held, rttFailed: 2 }, DEFAULT_STOP_RULE)).toEqual(['2 unanswered pings']);
    expect(brokenLimits({ ...held, streamsMissing: 3, failedJoins: 2 }, DEFAULT_STOP_RULE)).toEqual([
      '2 failed joins',
      '3 streams not received',
    ]);
  });

  it("smoke: the same hearing on our server and on Janus, the same clients: every page reads the others' barcodes on both", async () => {
    const outcome = await peerScenario({ participants: 2, seconds: 4, lossLevels: [0], systems: ['ours', 'janus'] }, () => undefined);
    const rows = (outcome.summary as { rows: PeerRow[] }).rows;
    expect(rows.map((r) => r.system)).toEqual(['ours', 'janus']);
    for (const r of rows) {
      // Each of 2 pages read the other's clock from the frames it presented, at a frame rate a person sees.
      expect(r.latencySamples, r.system).toBeGreaterThan(2 * 4 * 10);
      expect(r.latencyP50Ms, r.system).toBeGreaterThan(0);
      expect(r.latencyP95Ms, r.system).toBeLessThan(2000);
      expect(r.fps, r.system).toBeGreaterThan(10);
      expect(r.cpuPerParticipantPct, r.system).toBeGreaterThan(0);
    }
    expect((outcome.summary as { cpuPerParticipantRatioVsJanus: number }).cpuPerParticipantRatioVsJanus).toBeGreaterThan(0);
  }, 180_000);

  it('smoke: SIP terminals through the gateway: calls set up, beeps from one terminal heard at another, CPU per terminal with and without transcoding', async () => {
    const outcome = await sipScenario({ terminals: 2, seconds: 4 }, () => undefined);
    const s = outcome.summary as Record<string, number>;
    expect(s.calls).toBe(2 + 2 * 2);
    expect(s.callSetupMsP50).toBeGreaterThan(0);
    // Every beep terminal A sent was heard at B, through the gateway (G.711 in, Opus in the hearing, mixed, G.711 out).
    expect(s.beepsSent).toBe(4);
    expect(s.beepsHeard).toBe(s.beepsSent);
    expect(s.mouthToEarMsP50).toBeGreaterThan(0);
    expect(s.mouthToEarMsP95).toBeLessThan(1000);
    expect(s.cpuPctPerTerminalOpus).toBeGreaterThan(0);
    expect(s.cpuPctPerTerminalTranscoded).toBeGreaterThan(0);
  }, 120_000);

  it('smoke: three nodes: placement across all, creation beside a server alone, one failover measured to both pages seeing each other again', async () => {
    expect(parseBenchArgs(['cluster'])).toMatchObject({ clusterHearings: 30, clusterRounds: 3 });
    expect(() => parseBenchArgs(['cluster', '--cluster-rounds', '0'])).toThrow(/--cluster-rounds/);
    const outcome = await clusterScenario({ hearings: 6, rounds: 1, viewers: 3, galleryWindowMs: 3000 }, () => undefined);
    const s = outcome.summary as {
      nodes: number;
      hearingsPerNode: Record<string, number>;
      createMs: { cluster: { p50: number }; alone: { p50: number } };
      failoverRounds: { from: string; to: string; placedMs: number; mediaBackMs: number }[];
      failoverMsP95: number;
      gallery: Record<
        'onHostAlone' | 'withGallery',
        { onHost: number; onGallery: number; viewersComplete: number; galleryWorkerPct: number }
      >;
    };
    expect(s.nodes).toBe(3);
    expect(s.hearingsPerNode).toEqual({ 'node-a': 2, 'node-b': 2, 'node-c': 2 });
    expect(s.createMs.cluster.p50).toBeGreaterThan(0);
    expect(s.createMs.alone.p50).toBeGreaterThan(0);
    expect(s.failoverRounds).toHaveLength(1);
    const [r] = s.failoverRounds;
    expect(r!.to).not.toBe(r!.from);
    expect(r!.mediaBackMs).toBeGreaterThan(r!.placedMs);
    expect(s.failoverMsP95).toBe(r!.mediaBackMs);
    // The gallery: all three viewers on the hosting node, then two of them served by the second node, every
    // viewer receiving the judge's and the party's four streams in both runs.
    expect(s.gallery.onHostAlone).toMatchObject({ onHost: 3, onGallery: 0, viewersComplete: 3 });
    expect(s.gallery.withGallery).toMatchObject({ onHost: 1, onGallery: 2, viewersComplete: 3 });
    expect(s.gallery.withGallery.galleryWorkerPct).toBeGreaterThan(0);
  }, 180_000);
});

describe('the load-test tool against a deployment', () => {
  const ctx = withServer();

  it('says so before any load when the target does not answer or refuses the key, and creates nothing', async () => {
    const o = { hearings: 1, participants: 3, bots: 2, browsers: 1, seconds: 1 };
    // A port nobody listens on: taken, then let go.
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    await expect(hearingScenario({ ...o, target: `http://127.0.0.1:${closed}`, apiKey: 'k'.repeat(24) }, () => undefined)).rejects.toThrow(
      new RegExp(`^--target http://127.0.0.1:${closed} does not answer: .*ECONNREFUSED`),
    );
    await expect(hearingScenario({ ...o, target: ctx.server.url, apiKey: 'wrong-key-0123456789abcdef' }, () => undefined)).rejects.toThrow(
      /^--api-key is refused by http:\/\/127.0.0.1:\d+ \(401 /,
    );
    expect(ctx.server.hearings.list(10, 0)).toEqual([]);
  });
});
