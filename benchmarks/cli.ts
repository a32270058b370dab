// npm run bench -- <scenario> [options]: runs benchmark scenarios, writes reports, exits 1 on a missed target.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { forwardingScenario, FORWARDING_DEFAULTS } from './forwarding/scenario.ts';
import { recordingScenario, RECORDING_DEFAULTS } from './recording/scenario.ts';
import { transcriptionScenario } from './transcription/scenario.ts';
import { facesScenario } from './faces/scenario.ts';
import { livestreamScenario, LIVESTREAM_DEFAULTS } from './livestream/scenario.ts';
import { DEFAULT_STOP_RULE, hearingScenario } from './hearing/scenario.ts';
import { lossScenario, LOSS_DEFAULTS } from './loss/scenario.ts';
import { reachScenario, REACH_DEFAULTS, REACH_PATHS, type ReachPath } from './reach/scenario.ts';
import { peerScenario, PEER_DEFAULTS } from './peer/scenario.ts';
import { sipScenario, SIP_DEFAULTS } from './sip/scenario.ts';
import { botsScenario, BOTS_DEFAULTS } from './bots/scenario.ts';
import { clusterScenario, CLUSTER_DEFAULTS } from './cluster/scenario.ts';
import { machineInfo } from './lib/proc.ts';
import { progressBar, writeReport } from './lib/report.ts';
import type { ScenarioOutcome } from './lib/scenario.ts';

const SCENARIOS = [
  'forwarding',
  'recording',
  'transcription',
  'faces',
  'livestream',
  'hearing',
  'bots',
  'loss',
  'reach',
  'peer',
  'sip',
  'cluster',
  'all',
] as const;
const positiveInt = z.coerce.number().int().positive();
/** A comma-separated list of loss percentages (each at most 50 %), `defaults` when not given. */
const lossPercents = (defaults: number[]) =>
  z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated loss percentages')
    .default(defaults.join(','))
    .transform((s) => s.split(',').map(Number))
    .refine((l) => l.every((n) => n <= 50), 'at most 50 %');

const optionsSchema = z.object({
  scenario: z.enum(SCENARIOS),
  hearings: positiveInt.max(200).default(FORWARDING_DEFAULTS.hearings),
  publishers: positiveInt.max(20).default(FORWARDING_DEFAULTS.publishers),
  subscribers: positiveInt.max(2000).default(FORWARDING_DEFAULTS.subscribers),
  seconds: z.coerce.number().positive().max(600).default(FORWARDING_DEFAULTS.seconds),
  workers: positiveInt.max(64).default(FORWARDING_DEFAULTS.workers),
  receivers: positiveInt.max(16).default(FORWARDING_DEFAULTS.receivers),
  audioOnly: z.boolean().default(false),
  sweep: z
    .string()
    .regex(/^(none|\d+(,\d+)*)$/, 'comma-separated consumer counts, or none')
    .default(FORWARDING_DEFAULTS.sweep.join(','))
    .transform((s) => (s === 'none' ? [] : s.split(',').map(Number))),
  sweepSeconds: z.coerce.number().positive().max(120).default(FORWARDING_DEFAULTS.sweepSeconds),
  recordSteps: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated track counts')
    .default(RECORDING_DEFAULTS.steps.join(','))
    .transform((s) => s.split(',').map(Number)),
  recordSeconds: z.coerce.number().positive().max(300).default(RECORDING_DEFAULTS.seconds),
  asrSpeakers: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated speaker counts')
    .default('1,2,4')
    .transform((s) => s.split(',').map(Number)),
  asrModel: z.string().optional(),
  faceRounds: positiveInt.max(20).default(3),
  liveSteps: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated stream counts')
    .default(LIVESTREAM_DEFAULTS.steps.join(','))
    .transform((s) =>
      s
        .split(',')
        .map(Number)
        .filter((n) => n >= 1 && n <= 20),
    ),
  liveSeconds: z.coerce.number().positive().max(120).default(LIVESTREAM_DEFAULTS.seconds),
  lossLevels: lossPercents(LOSS_DEFAULTS.levels),
  lossSeconds: z.coerce.number().positive().max(300).default(LOSS_DEFAULTS.seconds),
  /** `--nack-retries N` (loss): the lossy levels again with a worker built to ask N times for a lost packet. */
  nackRetries: z.coerce.number().int().min(11).max(255).optional(),
  rttMs: z.coerce.number().int().min(0).max(1000).default(LOSS_DEFAULTS.rttMs),
  jitterMs: z.coerce.number().int().min(0).max(200).default(LOSS_DEFAULTS.jitterMs),
  target: z.url().optional(),
  apiKey: z.string().min(16).optional(),
  /** `--hearings` for the hearing scenario: 2 unless given (its pages are real browsers). */
  hearingCount: positiveInt.max(200).default(2),
  participants: positiveInt.max(20).default(3),
  holdSeconds: z.coerce.number().positive().max(3600).default(15),
  browsers: positiveInt.max(16).default(2),
  /** Of each hearing's `--participants`, how many are bots (benchmarks/bots/) instead of browser pages. */
  bots: z.coerce.number().int().min(0).max(200).default(0),
  /** How the bots read what they receive (benchmarks/bots/bot.ts, ReceivePath). */
  botReceive: z.enum(['headers', 'decrypt']).default('headers'),
  /** The bots scenario: bots-only hearings of 6, held this long, once per receive path. */
  botHearings: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'comma-separated numbers of hearings')
    .default(BOTS_DEFAULTS.hearings.join(','))
    .transform((v) => v.split(',').map(Number))
    .pipe(z.array(z.number().int().positive().max(50)).min(1)),
  botSeconds: z.coerce.number().positive().max(600).default(BOTS_DEFAULTS.seconds),
  /** How many hearings have browser pages (the rest are bots only); all unless given. */
  pages: z.coerce.number().int().min(0).max(200).optional(),
  /** The hearing scenario ramps one hearing at a time up to `--hearings`, until the stop rule. */
  ramp: z.boolean().default(false),
  maxLossPct: z.coerce.number().min(0).max(100).default(DEFAULT_STOP_RULE.maxLossPct),
  maxRttMs: z.coerce.number().positive().max(60_000).default(DEFAULT_STOP_RULE.maxRttMsP95),
  /** The hearing scenario's local server transcribes (off unless given). */
  transcription: z.boolean().default(false),
  reachRounds: positiveInt.max(50).default(REACH_DEFAULTS.rounds),
  reachPaths: z
    .string()
    .default(REACH_PATHS.join(','))
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(REACH_PATHS)).min(1)),
  peerSeconds: z.coerce.number().positive().max(600).default(PEER_DEFAULTS.seconds),
  peerLoss: lossPercents(PEER_DEFAULTS.lossLevels),
  sipTerminals: positiveInt.max(50).default(SIP_DEFAULTS.terminals),
  sipSeconds: z.coerce.number().positive().max(300).default(SIP_DEFAULTS.seconds),
  clusterHearings: positiveInt.max(300).default(CLUSTER_DEFAULTS.hearings),
  clusterRounds: positiveInt.max(20).default(CLUSTER_DEFAULTS.rounds),
  /** Viewers (bots) of the hearing whose gallery is measured on one node, then on a second. */
  clusterViewers: positiveInt.max(150).default(CLUSTER_DEFAULTS.viewers),
  out: z.string().default(path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')),
  noTargets: z.boolean().default(false),
});
export type BenchOptions = z.output<typeof optionsSchema>;

/** Parses `<scenario> [--option value …]`; throws with every problem listed. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      hearings: { type: 'string' },
      publishers: { type: 'string' },
      subscribers: { type: 'string' },
      seconds: { type: 'string' },
      workers: { type: 'string' },
      receivers: { type: 'string' },
      'audio-only': { type: 'boolean' },
      sweep: { type: 'string' },
      'sweep-seconds': { type: 'string' },
      'record-steps': { type: 'string' },
      'record-seconds': { type: 'string' },
      'asr-speakers': { type: 'string' },
      'asr-model': { type: 'string' },
      'face-rounds': { type: 'string' },
      'live-steps': { type: 'string' },
      'live-seconds': { type: 'string' },
      'loss-levels': { type: 'string' },
      'loss-seconds': { type: 'string' },
      'nack-retries': { type: 'string' },
      'rtt-ms': { type: 'string' },
      'jitter-ms': { type: 'string' },
      target: { type: 'string' },
      'api-key': { type: 'string' },
      participants: { type: 'string' },
      'hold-seconds': { type: 'string' },
      browsers: { type: 'string' },
      bots: { type: 'string' },
      'bot-receive': { type: 'string' },
      'bot-hearings': { type: 'string' },
      'bot-seconds': { type: 'string' },
      ramp: { type: 'boolean' },
      pages: { type: 'string' },
      'max-loss-pct': { type: 'string' },
      'max-rtt-ms': { type: 'string' },
      transcription: { type: 'boolean' },
      'reach-rounds': { type: 'string' },
      'reach-paths': { type: 'string' },
      'peer-seconds': { type: 'string' },
      'peer-loss': { type: 'string' },
      'sip-terminals': { type: 'string' },
      'sip-seconds': { type: 'string' },
      'cluster-hearings': { type: 'string' },
      'cluster-rounds': { type: 'string' },
      'cluster-viewers': { type: 'string' },
      out: { type: 'string' },
      'no-targets': { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new Error(`usage: npm run bench -- <${SCENARIOS.join('|')}> [options]`);
  const parsed = optionsSchema.safeParse({
    scenario: positionals[0],
    hearings: values.hearings,
    publishers: values.publishers,
    subscribers: values.subscribers,
    seconds: values.seconds,
    workers: values.workers,
    receivers: values.receivers,
    audioOnly: values['audio-only'],
    sweep: values.sweep,
    sweepSeconds: values['sweep-seconds'],
    recordSteps: values['record-steps'],
    recordSeconds: values['record-seconds'],
    asrSpeakers: values['asr-speakers'],
    asrModel: values['asr-model'] ?? process.env.HEARING_ASR_MODEL,
    faceRounds: values['face-rounds'],
    liveSteps: values['live-steps'],
    liveSeconds: values['live-seconds'],
    lossLevels: values['loss-levels'],
    lossSeconds: values['loss-seconds'],
    nackRetries: values['nack-retries'],
    rttMs: values['rtt-ms'],
    jitterMs: values['jitter-ms'],
    target: values.target,
    apiKey: values['api-key'],
    hearingCount: positionals[0] === 'hearing' ? values.hearings : undefined,
    participants: values.participants,
    holdSeconds: values['hold-seconds'],
    browsers: values.browsers,
    bots: values.bots,
    botReceive: values['bot-receive'],
    botHearings: values['bot-hearings'],
    botSeconds: values['bot-seconds'],
    ramp: values.ramp,
    pages: values.pages,
    maxLossPct: values['max-loss-pct'],
    maxRttMs: values['max-rtt-ms'],
    transcription: values.transcription,
    reachRounds: values['reach-rounds'],
    reachPaths: values['reach-paths'],
    peerSeconds: values['peer-seconds'],
    peerLoss: values['peer-loss'],
    sipTerminals: values['sip-terminals'],
    sipSeconds: values['sip-seconds'],
    clusterHearings: values['cluster-hearings'],
    clusterRounds: values['cluster-rounds'],
    clusterViewers: values['cluster-viewers'],
    out: values.out,
    noTargets: values['no-targets'],
  });
  // Problems are named by their command-line flag (`lossLevels` → `--loss-levels`).
  const flag = (key: string): string => (key === 'hearingCount' ? 'hearings' : key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${flag(i.path.join('.'))}: ${i.message}`).join('; '));
  if (parsed.data.bots >= parsed.data.participants)
    throw new Error(
      `--bots: ${parsed.data.bots} of ${parsed.data.participants} participants — each hearing keeps at least one browser page (the judge)`,
    );
  if (parsed.data.transcription && parsed.data.target)
    throw new Error('--transcription: only for the local server this tool starts (a --target transcribes as it is configured)');
  return parsed.data;
}

async function runScenario(name: Exclude<BenchOptions['scenario'], 'all'>, o: BenchOptions): Promise<ScenarioOutcome> {
  const progress = progressBar(name);
  switch (name) {
    case 'forwarding':
      return forwardingScenario({ ...o, video: !o.audioOnly }, progress);
    case 'recording':
      return recordingScenario({ steps: o.recordSteps, seconds: o.recordSeconds, workers: o.workers }, progress);
    case 'transcription':
      return transcriptionScenario({ speakers: o.asrSpeakers, model: o.asrModel }, progress);
    case 'faces':
      return facesScenario({ rounds: o.faceRounds }, progress);
    case 'hearing':
      return hearingScenario(
        {
          target: o.target,
          apiKey: o.apiKey,
          hearings: o.hearingCount,
          participants: o.participants,
          seconds: o.holdSeconds,
          browsers: o.browsers,
          bots: o.bots,
          botReceive: o.botReceive,
          ramp: o.ramp,
          pages: o.pages,
          stop: { maxLossPct: o.maxLossPct, maxRttMsP95: o.maxRttMs },
          transcription: o.transcription,
        },
        progress,
      );
    case 'livestream':
      return livestreamScenario({ steps: o.liveSteps, seconds: o.liveSeconds }, progress);
    case 'loss':
      return lossScenario(
        {
          levels: o.lossLevels,
          fecOnly: LOSS_DEFAULTS.fecOnly,
          seconds: o.lossSeconds,
          rttMs: o.rttMs,
          jitterMs: o.jitterMs,
          ...(o.nackRetries ? { nackRetries: o.nackRetries } : {}),
        },
        progress,
      );
    case 'reach':
      return reachScenario({ paths: o.reachPaths as ReachPath[], rounds: o.reachRounds, holdSeconds: o.holdSeconds }, progress);
    case 'peer':
      return peerScenario({ participants: o.participants, seconds: o.peerSeconds, lossLevels: o.peerLoss }, progress);
    case 'bots':
      return botsScenario({ hearings: o.botHearings, participants: BOTS_DEFAULTS.participants, seconds: o.botSeconds }, progress);
    case 'sip':
      return sipScenario({ terminals: o.sipTerminals, seconds: o.sipSeconds }, progress);
    case 'cluster':
      return clusterScenario({ hearings: o.clusterHearings, rounds: o.clusterRounds, viewers: o.clusterViewers }, progress);
  }
}

export async function main(argv: string[]): Promise<number> {
  const options = parseBenchArgs(argv);
  const names =
    options.scenario === 'all' ? (SCENARIOS.filter((s) => s !== 'all') as Exclude<BenchOptions['scenario'], 'all'>[]) : [options.scenario];
  let missed = 0;
  const lines: string[] = [];
  for (const name of names) {
    const outcome = await runScenario(name, options);
    const files = writeReport(options.out, name, outcome, machineInfo());
    console.log(`${name}: ${JSON.stringify(outcome.summary)}`);
    console.log(`  report: ${files.markdown}`);
    for (const t of outcome.targets) {
      lines.push(`| ${name} | ${t.name} | ${t.value} | ${t.target} | ${t.ok ? 'met' : 'MISSED'} |`);
      if (!t.ok) missed++;
    }
  }
  console.log(['| scenario | figure | measured | target | |', '|---|---|---|---|---|', ...lines].join('\n'));
  return missed > 0 && !options.noTargets ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(error.message);
      process.exit(2);
    },
  );
}
