// `npm run bench -- bots`: what a load-test bot costs the load machine, by the way it reads what it
// receives (bot.ts, ReceivePath), both measured in one run: the same bots-only hearings on a local server,
// once through werift's whole receive path (the baseline) and once from the RTP headers.
import os from 'node:os';
import { hearingScenario } from '../hearing/scenario.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import type { ReceivePath } from './bot.ts';

export const BOTS_DEFAULTS = { hearings: 2, participants: 6, seconds: 20 };
/** The goal: bot participants (sound and a 300 kbit/s picture each) per core of the load machine. */
export const BOTS_PER_CORE_GOAL = 100;
const PATHS: ReceivePath[] = ['decrypt', 'headers'];

interface PathRow {
  receive: ReceivePath;
  bots: number;
  cpuPctPerBot: number | null;
  botsPerCore: number | null;
  packetsInPerBotPerS: number;
  /** The bot process's CPU per packet it handled: each one received, and each one sent (a bot sends to n − 1 others). */
  usPerPacket: number | null;
  lossPct: number;
  nacksSent: number;
  streamsMissing: number;
  latencyMsP95: number | null;
  udpReceiveBufferDrops: number | null;
}

export async function botsScenario(
  o: { hearings: number; participants: number; seconds: number },
  progress: Progress,
): Promise<ScenarioOutcome> {
  const rows: PathRow[] = [];
  for (const [i, receive] of PATHS.entries()) {
    const outcome = await hearingScenario(
      {
        hearings: o.hearings,
        participants: o.participants,
        bots: o.participants - 1,
        pages: 0,
        browsers: 0,
        seconds: o.seconds,
        botReceive: receive,
        // Measured, not judged: the hold is what is measured whatever it loses.
        stop: { maxLossPct: 100, maxRttMsP95: 600_000 },
      },
      (f, label) => progress((i + f) / PATHS.length, `${receive}: ${label}`),
    );
    const s = outcome.summary as {
      bots: {
        joined: number;
        packetsReceived: number;
        lossPct: number;
        nacksSent: number;
        cpuPctPerBot: number | null;
        latencyMsP95: number | null;
        streamsExpected: number;
        streamsReceived: number;
        machineUdpReceiveBufferDrops: number | null;
      } | null;
    };
    const b = s.bots;
    if (!b || !b.joined) throw new Error(`bots (${receive}): no bot joined`);
    const perBotPerS = b.packetsReceived / b.joined / o.seconds;
    const handled = perBotPerS * (1 + 1 / (o.participants - 1));
    rows.push({
      receive,
      bots: b.joined,
      cpuPctPerBot: b.cpuPctPerBot,
      botsPerCore: b.cpuPctPerBot ? Math.floor(100 / b.cpuPctPerBot) : null,
      packetsInPerBotPerS: Math.round(perBotPerS),
      usPerPacket: b.cpuPctPerBot && handled ? Math.round((b.cpuPctPerBot / 100 / handled) * 1e6 * 10) / 10 : null,
      lossPct: b.lossPct,
      nacksSent: b.nacksSent,
      streamsMissing: b.streamsExpected - b.streamsReceived,
      latencyMsP95: b.latencyMsP95,
      udpReceiveBufferDrops: b.machineUdpReceiveBufferDrops,
    });
  }
  progress(1, 'done');
  const [decrypt, headers] = rows as [PathRow, PathRow];
  const summary = {
    hearings: o.hearings,
    participantsPerHearing: o.participants,
    holdSeconds: o.seconds,
    cores: os.availableParallelism(),
    botsPerCore: { headers: headers.botsPerCore, decrypt: decrypt.botsPerCore },
    cpuPctPerBot: { headers: headers.cpuPctPerBot, decrypt: decrypt.cpuPctPerBot },
    cpuRatioHeadersVsDecrypt:
      headers.cpuPctPerBot && decrypt.cpuPctPerBot ? Math.round((headers.cpuPctPerBot / decrypt.cpuPctPerBot) * 1000) / 1000 : null,
    paths: rows,
  };
  return {
    summary,
    targets: [
      {
        name: 'bots per core (reading headers)',
        value: headers.botsPerCore ?? 0,
        target: `>= ${BOTS_PER_CORE_GOAL}`,
        ok: (headers.botsPerCore ?? 0) >= BOTS_PER_CORE_GOAL,
      },
      { name: 'bot streams missing (reading headers)', value: headers.streamsMissing, target: '= 0', ok: headers.streamsMissing === 0 },
      { name: 'loss % at the bots (reading headers)', value: headers.lossPct, target: '= 0', ok: headers.lossPct === 0 },
    ],
    samples: rows,
    table: {
      columns: [
        'receive path',
        'bots',
        'CPU per bot (% of a core)',
        'bots per core',
        'packets in per bot per s',
        'µs per packet',
        'loss %',
        'NACKs sent',
        'streams missing',
        'latency p95 (ms)',
        'kernel drops',
      ],
      rows: rows.map((r) => [
        r.receive,
        r.bots,
        r.cpuPctPerBot ?? '',
        r.botsPerCore ?? '',
        r.packetsInPerBotPerS,
        r.usPerPacket ?? '',
        r.lossPct,
        r.nacksSent,
        r.streamsMissing,
        r.latencyMsP95 ?? '',
        r.udpReceiveBufferDrops ?? '',
      ]),
    },
    chart: { title: 'bots per core', bars: rows.map((r) => ({ label: r.receive, value: r.botsPerCore ?? 0 })) },
  };
}
