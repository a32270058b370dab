// Face checks: ms per verification frame (detect + 68 landmarks + 128-d descriptor on a 640x480 frame)
// for our engine (tiny face detector) side by side with the feasibility study's baseline (SSD MobileNet
// v1) in the same run; frames per second with one and with two face processes; RSS; and FAR/FRR over
// every pair of the fixture photos at the configured thresholds.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { descriptorDistance, loadFaceEngine } from '../../workers/identity/face-engine.ts';
import { FaceChecker } from '../../workers/identity/face-checker.ts';
import { photoAsFrame } from '../../workers/identity/face-frame.ts';
import { DEFAULT_THRESHOLDS } from '../../server/identity/rule.ts';
import { percentile, processPeakRssMiB } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/faces');

export interface FacesOptions {
  /** Passes over the 15 fixture frames per engine. */
  rounds: number;
}

type Frame = { name: string; rgb: Uint8Array; width: number; height: number };
const round = (v: number, digits = 1): number => Number(v.toFixed(digits));

async function timeEngine(detector: 'tiny' | 'ssd', frames: Frame[], rounds: number) {
  const engine = await loadFaceEngine(detector);
  await engine.detect(frames[0]!.rgb, frames[0]!.width, frames[0]!.height); // warm-up (first inference compiles kernels)
  const ms: number[] = [];
  const descriptors = new Map<string, Float32Array>();
  let missed = 0;
  for (let r = 0; r < rounds; r++) {
    for (const f of frames) {
      const t = performance.now();
      const faces = await engine.detect(f.rgb, f.width, f.height);
      ms.push(performance.now() - t);
      if (faces.length === 1) descriptors.set(f.name, faces[0]!.descriptor);
      else if (r === 0) missed++;
    }
  }
  ms.sort((a, b) => a - b);
  return {
    detector,
    model: engine.model,
    p50: round(percentile(ms, 0.5)),
    p95: round(percentile(ms, 0.95)),
    frames: ms.length,
    missed,
    descriptors,
  };
}

/** Frames per second through `processes` face processes working at once (one check = several frames). */
async function throughput(processes: number, frames: Frame[], seconds: number) {
  const checkers = Array.from({ length: processes }, () => new FaceChecker({ min: 27000, max: 27999 }));
  await Promise.all(checkers.map((c) => c.start()));
  let done = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    checkers.map(async (c, i) => {
      for (let k = i; Date.now() < end; k++) {
        const f = frames[k % frames.length]!;
        await c.describe(f.rgb, f.width, f.height);
        done++;
      }
    }),
  );
  const rss = checkers.map((c) => processPeakRssMiB(c.pid!));
  await Promise.all(checkers.map((c) => c.close()));
  return { processes, framesPerSecond: round(done / seconds, 2), peakRssMiB: Math.max(...rss) };
}

function pairStats(descriptors: Map<string, Float32Array>) {
  const names = [...descriptors.keys()];
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let a = 0; a < names.length; a++) {
    for (let b = a + 1; b < names.length; b++) {
      const d = descriptorDistance(descriptors.get(names[a]!)!, descriptors.get(names[b]!)!);
      (names[a]!.replace(/\d+$/, '') === names[b]!.replace(/\d+$/, '') ? genuine : impostor).push(d);
    }
  }
  const t = DEFAULT_THRESHOLDS;
  return {
    genuinePairs: genuine.length,
    impostorPairs: impostor.length,
    genuine: { min: round(Math.min(...genuine), 3), max: round(Math.max(...genuine), 3) },
    impostor: { min: round(Math.min(...impostor), 3), max: round(Math.max(...impostor), 3) },
    accept: t.accept,
    reject: t.reject,
    falseAccepts: impostor.filter((d) => d <= t.accept).length,
    FAR: round(impostor.filter((d) => d <= t.accept).length / impostor.length, 4),
    /** Genuine pairs not verified outright: sent to a person (review) or rejected. */
    FRR: round(genuine.filter((d) => d > t.accept).length / genuine.length, 4),
    genuineRejected: genuine.filter((d) => d >= t.reject).length,
  };
}

export async function facesScenario(o: FacesOptions, progress: Progress): Promise<ScenarioOutcome> {
  const names = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.png'))
    .sort();
  const frames: Frame[] = [];
  for (const n of names) frames.push({ name: n.replace(/\.png$/, ''), ...(await photoAsFrame(fs.readFileSync(path.join(FIXTURES, n)))) });
  progress(0.05, 'ours (tiny detector)');
  const ours = await timeEngine('tiny', frames, o.rounds);
  progress(0.35, 'baseline (SSD MobileNet)');
  const baseline = await timeEngine('ssd', frames, o.rounds);
  progress(0.65, 'one face process');
  const one = await throughput(1, frames, 8);
  progress(0.8, 'two face processes');
  const two = await throughput(2, frames, 8);
  progress(1, 'done');
  const pairs = pairStats(ours.descriptors);
  const summary = {
    msPerFrameP50: ours.p50,
    msPerFrameP95: ours.p95,
    baselineMsPerFrameP50: baseline.p50,
    speedupVsBaseline: round(baseline.p50 / ours.p50, 2),
    framesPerSecond: { oneProcess: one.framesPerSecond, twoProcesses: two.framesPerSecond },
    checksPerSecondPerCore: round(two.framesPerSecond / 2 / DEFAULT_THRESHOLDS.frames, 2),
    faceProcessPeakRssMiB: round(two.peakRssMiB),
    fixtureFacesMissed: { ours: ours.missed, baseline: baseline.missed },
    ...pairs,
  };
  return {
    summary,
    targets: [
      { name: 'msPerFrameP50', value: ours.p50, target: '<= 200', ok: ours.p50 <= 200 },
      { name: 'falseAccepts', value: pairs.falseAccepts, target: '= 0', ok: pairs.falseAccepts === 0 },
    ],
    samples: {
      ours: { ...ours, descriptors: undefined },
      baseline: { ...baseline, descriptors: undefined },
      throughput: [one, two],
      pairs,
    },
    table: {
      columns: ['engine', 'model', 'ms/frame p50', 'ms/frame p95', 'frames', 'fixture faces missed'],
      rows: [ours, baseline].map((e) => [e.detector === 'tiny' ? 'ours' : 'baseline', e.model, e.p50, e.p95, e.frames, e.missed]),
    },
    chart: {
      title: 'ms per verification frame (640x480), p50',
      bars: [
        { label: 'ours (tiny)', value: ours.p50 },
        { label: 'baseline (SSD)', value: baseline.p50 },
      ],
    },
  };
}
