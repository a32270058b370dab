// `npm run bench -- bots`: what a load-test bot costs the load machine, by the way it reads what it
// receives (bot.ts, ReceivePath), both measured in one run: the same bots-only hearings on a local server,
// once through werift's whole receive path (the baseline) and once from the RTP headers, at each number
// of hearings asked for (a bot costs less where more share a process: one timer and one wake-up serve many).
import os from 'node:os';
import { hearingScenario } from '../hearing/scenario.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';
import type { ReceivePath } from './bot.ts';

export const BOTS_DEFAULTS = { hearings: [2, 6], participants: 6, seconds: 20 };
/** The goal: bot participants (sound and a 300 kbit/s picture each) per core of the load machine. */
export const BOTS_PER_CORE_GOAL = 100;
const PATHS: ReceivePath[] = ['decrypt', 'headers'];
/** A bot whose packets wait longer than this in its process (one-way, between bots of one process) has fallen behind. */
const KEPT_UP_MS = 500;

interface PathRow {
  receive: ReceivePath;
  hearings: number;
  bots: number;
  /** Every stream arrived, nothing was lost, and nothing queued in the bots' processes (one-way p95 under KEPT_UP_MS). */
  keptUp: boolean;
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

interface BotFigures {
  joined: number;
  packetsReceived: number;
  lossPct: number;
  nacksSent: number;
  cpuPctPerBot: number | null;
  latencyMsP95: number | null;
  streamsExpected: number;
  streamsReceived: number;
  machineUdpReceiveBufferDrops: number | null;
}

export async function botsScenario(
  o: { hearings: number[]; participants: number; seconds: number },
  progress: Progress,
): Promise<ScenarioOutcome> {
  const rows: PathRow[] = [];
  const runs = o.hearings.flatMap((hearings) => PATHS.map((receive) => ({ hearings, receive })));
  for (const [i, { hearings, receive }] of runs.entries()) {
    const outcome = await hearingScenario(
      {
        hearings,
        participants: o.participants,
        bots: o.participants - 1,
        pages: 0,
        browsers: 0,
        seconds: o.seconds,
        botReceive: receive,
        // Measured, not judged: the hold is what is measured whatever it loses.
        stop: { maxLossPct: 100, maxRttMsP95: 600_000 },
      },
      (f, label) => progress((i + f) / runs.length, `${hearings} hearings, ${receive}: ${label}`),
    );
    const b = (outcome.summary as { bots: BotFigures | null }).bots;
    if (!b || !b.joined) throw new Error(`bots (${receive}, ${hearings} hearings): no bot joined`);
    const perBotPerS = b.packetsReceived / b.joined / o.seconds;
    const handled = perBotPerS * (1 + 1 / (o.participants - 1));
    const streamsMissing = b.streamsExpected - b.streamsReceived;
    rows.push({
      receive,
      hearings,
      bots: b.joined,
      keptUp: streamsMissing === 0 && b.lossPct === 0 && b.latencyMsP95 !== null && b.latencyMsP95 < KEPT_UP_MS,
      cpuPctPerBot: b.cpuPctPerBot,
      botsPerCore: b.cpuPctPerBot ? Math.floor(100 / b.cpuPctPerBot) : null,
      packetsInPerBotPerS: Math.round(perBotPerS),
      usPerPacket: b.cpuPctPerBot && handled ? Math.round((b.cpuPctPerBot / 100 / handled) * 1e6 * 10) / 10 : null,
      lossPct: b.lossPct,
      nacksSent: b.nacksSent,
      streamsMissing,
      latencyMsP95: b.latencyMsP95,
      udpReceiveBufferDrops: b.machineUdpReceiveBufferDrops,
    });
  }
  progress(1, 'done');
  // Each path at its best: the most bots per core where it kept up.
  const best = (receive: ReceivePath): PathRow | undefined =>
    rows.filter((r) => r.receive === receive && r.keptUp).sort((a, b) => (b.botsPerCore ?? 0) - (a.botsPerCore ?? 0))[0];
  const [decrypt, headers] = [best('decrypt'), best('headers')];
  // Side by side at the first load: the same bots, one path after the other.
  const [first, second] = [rows[0]!, rows[1]!];
  const summary = {
    hearings: o.hearings,
    participantsPerHearing: o.participants,
    holdSeconds: o.seconds,
    cores: os.availableParallelism(),
    botsPerCore: { headers: headers?.botsPerCore ?? null, decrypt: decrypt?.botsPerCore ?? null },
    /** How many bots were running where each path did best. */
    botsPerCoreAt: { headers: headers?.bots ?? null, decrypt: decrypt?.bots ?? null },
    cpuPctPerBot: { bots: first.bots, headers: second.cpuPctPerBot, decrypt: first.cpuPctPerBot },
    cpuRatioHeadersVsDecrypt:
      second.cpuPctPerBot && first.cpuPctPerBot ? Math.round((second.cpuPctPerBot / first.cpuPctPerBot) * 1000) / 1000 : null,
    paths: rows,
  };
  return {
    summary,
    targets: [
      {
        name: 'bots per core (reading headers, kept up)',
        value: headers?.botsPerCore ?? 0,
        target: `>= ${BOTS_PER_CORE_GOAL}`,
        ok: (headers?.botsPerCore ?? 0) >= BOTS_PER_CORE_GOAL,
      },
      ...rows
        .filter((r) => r.receive === 'headers')
        .map((r) => ({
          name: `bot streams missing (reading headers, ${r.bots} bots)`,
          value: r.streamsMissing,
          target: '= 0',
          ok: r.streamsMissing === 0,
        })),
    ],
    samples: rows,
    table: {
      columns: [
        'receive path',
        'hearings',
        'bots',
        'kept up',
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
        r.hearings,
        r.bots,
        r.keptUp ? 'yes' : 'no',
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
    chart: { title: 'bots per core', bars: rows.map((r) => ({ label: `${r.receive}, ${r.bots}`, value: r.botsPerCore ?? 0 })) },
  };
}
