// Face checks: ms per verification frame (detect + 68 landmarks + 128-d descriptor on a 640x480 frame)
// for our engine (tiny face detector) side by side with the feasibility study's baseline (SSD MobileNet
// v1) in the same run; frames per second with one and with two face processes; RSS; and FAR/FRR over
// every pair of the fixture photos at the configured thresholds. Then what decides how many people a
// court sends to a person: faces filling the camera frame (found as they are, and shrunk), tight-crop
// reference photos (the usual framings, and the smaller ones after them), and checks close to a
// threshold (the median of the first frames, against taking more) on simulated camera sequences.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { descriptorDistance, detectCloseUp, loadFaceEngine, type FaceEngine } from '../../workers/identity/face-engine.ts';
import { FaceChecker } from '../../workers/identity/face-checker.ts';
import { photoAsFrame } from '../../workers/identity/face-frame.ts';
import { decide, DEFAULT_THRESHOLDS } from '../../server/identity/rule.ts';
import { ENROLL_FITS } from '../../server/identity/identity.ts';
import { calibrate } from '../../server/identity/calibrate.ts';
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
    /** What `npm run calibrate` would make of these pairs (3 people: never enough to use). */
    calibration: (({ recommended, enough }) => ({ recommended, enough }))(
      calibrate([...genuine.map((distance) => ({ distance, same: true })), ...impostor.map((distance) => ({ distance, same: false }))], t),
    ),
    falseAccepts: impostor.filter((d) => d <= t.accept).length,
    FAR: round(impostor.filter((d) => d <= t.accept).length / impostor.length, 4),
    /** Genuine pairs not verified outright: sent to a person (review) or rejected. */
    FRR: round(genuine.filter((d) => d > t.accept).length / genuine.length, 4),
    genuineRejected: genuine.filter((d) => d >= t.reject).length,
  };
}

/** A photo covering a whole 640x480 frame: a face held close to a phone's camera. */
async function closeUpFrame(photo: Buffer): Promise<Uint8Array> {
  const { data } = await sharp(photo).resize(640, 480, { fit: 'cover' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Faces filling the frame: found by one pass as they are, and with the shrunk passes after it (ours). */
async function closeUps(engine: FaceEngine, photos: Map<string, Buffer>) {
  let asIs = 0;
  let ours = 0;
  const ms: number[] = [];
  for (const photo of photos.values()) {
    const rgb = await closeUpFrame(photo);
    if ((await engine.detect(rgb, 640, 480)).length === 1) asIs++;
    const t = performance.now();
    if ((await detectCloseUp(engine, rgb, 640, 480)).length === 1) ours++;
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return { photos: photos.size, foundAsIs: asIs, foundOurs: ours, msPerFrameP50: round(percentile(ms, 0.5)) };
}

/** Reference photos cut to their central `keep` share: faces found with the usual framings, and with ours. */
async function tightCrops(engine: FaceEngine, photos: Map<string, Buffer>, keep: number) {
  let usual = 0;
  let ours = 0;
  for (const photo of photos.values()) {
    const { width = 0, height = 0 } = await sharp(photo).metadata();
    const [w, h] = [Math.round(width * keep), Math.round(height * keep)];
    const crop = await sharp(photo)
      .extract({ left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h })
      .png()
      .toBuffer();
    let found = false;
    for (const fit of [...ENROLL_FITS.usual, ...ENROLL_FITS.tight]) {
      const f = await photoAsFrame(crop, fit);
      if ((await engine.detect(f.rgb, f.width, f.height)).length === 1) {
        if (ENROLL_FITS.usual.includes(fit)) usual++;
        found = true;
        break;
      }
    }
    if (found) ours++;
  }
  return { keep, photos: photos.size, foundUsual: usual, foundOurs: ours };
}

/** Deterministic pseudo-random numbers (mulberry32): the same sequences in every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Camera frames of one person that are not the reference photo: each other photo of that person as it is,
 * mirrored, darker, brighter, and cut closer (augmented: reported apart from the real pairs).
 */
async function frameVariants(engine: FaceEngine, photos: Map<string, Buffer>): Promise<Map<string, Float32Array[]>> {
  const variants = new Map<string, Float32Array[]>();
  for (const [name, photo] of photos) {
    const list: Float32Array[] = [];
    const versions = [
      photo,
      await sharp(photo).flop().png().toBuffer(),
      await sharp(photo).modulate({ brightness: 0.75 }).png().toBuffer(),
      await sharp(photo).modulate({ brightness: 1.25 }).png().toBuffer(),
      await sharp(photo).extract({ left: 8, top: 8, width: 134, height: 134 }).png().toBuffer(),
    ];
    for (const v of versions) {
      const f = await photoAsFrame(v);
      const faces = await engine.detect(f.rgb, f.width, f.height);
      if (faces.length === 1) list.push(faces[0]!.descriptor);
    }
    variants.set(name, list);
  }
  return variants;
}

/**
 * Simulated checks: a reference photo of a person, and a camera showing frames of the same person
 * (genuine) or another (impostor), drawn from the other photos' variants. Each decided by the median of
 * the first `frames` (before), and by our rule (more frames while between the thresholds, up to
 * `maxFrames`). How many genuine checks go to a person, and how many impostors are let in, by each.
 */
function multiFrame(descriptors: Map<string, Float32Array>, variants: Map<string, Float32Array[]>, checksPerPair: number) {
  const t = DEFAULT_THRESHOLDS;
  const person = (name: string) => name.replace(/\d+$/, '');
  const next = random(20261126);
  const tally = { genuine: 0, impostor: 0, genuineReviewBefore: 0, genuineReviewOurs: 0, genuineRejectedBefore: 0, genuineRejectedOurs: 0 };
  let falseAcceptsBefore = 0;
  let falseAcceptsOurs = 0;
  let framesOurs = 0;
  for (const [refName, reference] of descriptors) {
    for (const [camName] of descriptors) {
      if (camName === refName) continue;
      const genuine = person(camName) === person(refName);
      // One camera person per reference: the frames are drawn from all that person's other photos.
      if (!genuine && camName !== `${person(camName)}1`) continue;
      if (genuine && camName !== [...descriptors.keys()].find((n) => person(n) === person(refName) && n !== refName)) continue;
      const pool = [...variants.entries()]
        .filter(([n]) => person(n) === person(camName) && n !== refName)
        .flatMap(([, list]) => list)
        .map((d) => descriptorDistance(reference, d));
      for (let k = 0; k < checksPerPair; k++) {
        const seq = Array.from({ length: t.maxFrames }, () => pool[Math.floor(next() * pool.length)]!);
        const before = decide(seq.slice(0, t.frames), t).status;
        let n = t.frames;
        while (decide(seq.slice(0, n), t, false).status === 'more') n++;
        const ours = decide(seq.slice(0, n), t).status;
        framesOurs += n;
        if (genuine) {
          tally.genuine++;
          if (before === 'needs_review') tally.genuineReviewBefore++;
          if (ours === 'needs_review') tally.genuineReviewOurs++;
          if (before === 'rejected') tally.genuineRejectedBefore++;
          if (ours === 'rejected') tally.genuineRejectedOurs++;
        } else {
          tally.impostor++;
          if (before === 'verified') falseAcceptsBefore++;
          if (ours === 'verified') falseAcceptsOurs++;
        }
      }
    }
  }
  return {
    ...tally,
    falseAcceptsBefore,
    falseAcceptsOurs,
    genuineToReviewBeforePct: round((100 * tally.genuineReviewBefore) / tally.genuine, 1),
    genuineToReviewOursPct: round((100 * tally.genuineReviewOurs) / tally.genuine, 1),
    meanFramesOurs: round(framesOurs / (tally.genuine + tally.impostor), 2),
    frames: t.frames,
    maxFrames: t.maxFrames,
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
  progress(1, 'close-ups, tight crops, multi-frame checks');
  const photos = new Map(names.map((n) => [n.replace(/\.png$/, ''), fs.readFileSync(path.join(FIXTURES, n))]));
  const engine = await loadFaceEngine('tiny');
  const closeUp = await closeUps(engine, photos);
  const tight = [await tightCrops(engine, photos, 0.8), await tightCrops(engine, photos, 0.7)];
  const checks = multiFrame(ours.descriptors, await frameVariants(engine, photos), 40);
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
    closeUp,
    tightCrops: tight,
    multiFrameChecks: checks,
  };
  return {
    summary,
    targets: [
      { name: 'msPerFrameP50', value: ours.p50, target: '<= 200', ok: ours.p50 <= 200 },
      { name: 'falseAccepts', value: pairs.falseAccepts, target: '= 0', ok: pairs.falseAccepts === 0 },
      { name: 'multiFrameFalseAccepts', value: checks.falseAcceptsOurs, target: '= 0', ok: checks.falseAcceptsOurs === 0 },
      {
        name: 'genuineChecksToReviewPct',
        value: checks.genuineToReviewOursPct,
        target: '<= 5',
        ok: checks.genuineToReviewOursPct <= 5,
      },
      { name: 'closeUpFacesFound', value: closeUp.foundOurs, target: `= ${closeUp.photos}`, ok: closeUp.foundOurs === closeUp.photos },
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
