// Face detection + 68 landmarks + 128-d descriptor with @vladmandic/face-api (the maintained face-api.js
// fork that ships its weights) on the tfjs WASM backend (tfjs-node cannot install offline). Loaded once
// per face process.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as FaceApi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import type * as Tf from '@tensorflow/tfjs';
import { shrinkFrame } from './face-frame.ts';

const require = createRequire(import.meta.url);

export interface DetectedFace {
  score: number;
  box: { x: number; y: number; width: number; height: number };
  descriptor: Float32Array;
  /** A few landmark positions (eyes, nose tip, mouth corners) for the liveness hint. */
  keypoints: number[];
}

export interface FaceEngine {
  readonly model: string;
  detect(rgb: Uint8Array, width: number, height: number): Promise<DetectedFace[]>;
}

/** Tiny face detector input size: measured on the fixtures, 416 finds every face at ~3x the speed of SSD MobileNet. */
const DETECTOR_INPUT = 416;

/**
 * `tiny` (the default: tiny face detector) or `ssd` (SSD MobileNet v1, the feasibility study's
 * baseline, kept for the benchmark's side-by-side comparison).
 */
export async function loadFaceEngine(detector: 'tiny' | 'ssd' = 'tiny'): Promise<FaceEngine> {
  // CJS builds: named ESM imports of them are not reliable under plain Node, so they are required.
  const tf = require('@tensorflow/tfjs') as typeof Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string, usePlatformFetch?: boolean): void };
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as typeof FaceApi;
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  // A file path, read from disk (Node's fetch cannot read paths).
  wasm.setWasmPaths(`${wasmDir}/`, false);
  await tf.setBackend('wasm');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  if (detector === 'tiny') await faceapi.nets.tinyFaceDetector.loadFromDisk(modelDir);
  else await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const options =
    detector === 'tiny'
      ? new faceapi.TinyFaceDetectorOptions({ inputSize: DETECTOR_INPUT, scoreThreshold: 0.5 })
      : new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
  const version = (require('@vladmandic/face-api/package.json') as { version: string }).version;
  return {
    model: `face-api ${version} ${detector === 'tiny' ? `tiny_face_detector(${DETECTOR_INPUT})` : 'ssd_mobilenetv1'}+face_landmark_68+face_recognition (tfjs-wasm ${tf.version_core})`,
    async detect(rgb, width, height) {
      const tensor = tf.tensor3d(rgb, [height, width, 3], 'int32');
      try {
        const results = await faceapi
          .detectAllFaces(tensor as never, options)
          .withFaceLandmarks()
          .withFaceDescriptors();
        return results.map((r) => {
          const p = r.landmarks.positions;
          const keypoints = [36, 45, 30, 48, 54].flatMap((i) => [p[i]!.x, p[i]!.y]);
          const b = r.detection.box;
          return {
            score: r.detection.score,
            box: { x: b.x, y: b.y, width: b.width, height: b.height },
            descriptor: r.descriptor,
            keypoints,
          };
        });
      } finally {
        tensor.dispose();
      }
    },
  };
}

/** Euclidean distance between two 128-d descriptors (face-api's metric: same person below ~0.5). */
export function descriptorDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

/**
 * Shrink factors tried, in order, on a live frame where no face was found. Measured on the 15 fixture
 * photos each filling a 640x480 frame (a phone held close): found as they are 0 of 15; shrunk to 0.5,
 * 11; to 0.35, 12; the two in turn, 14 (`npm run bench -- faces`, closeUp, 2026-11-26).
 */
export const CLOSE_UP_SCALES = [0.5, 0.35];

/**
 * Faces in a live frame; when there is none, the frame is looked at again shrunk (CLOSE_UP_SCALES), and
 * what is found there is mapped back to the frame's coordinates. A frame with a face costs one pass.
 */
export async function detectCloseUp(
  engine: FaceEngine,
  rgb: Uint8Array,
  width: number,
  height: number,
  scales: readonly number[] = CLOSE_UP_SCALES,
): Promise<DetectedFace[]> {
  const faces = await engine.detect(rgb, width, height);
  if (faces.length) return faces;
  for (const scale of scales) {
    const small = await shrinkFrame(rgb, width, height, scale);
    const found = await engine.detect(small.rgb, width, height);
    if (!found.length) continue;
    return found.map((f) => {
      const [x, y] = small.back(f.box.x, f.box.y);
      const [x2, y2] = small.back(f.box.x + f.box.width, f.box.y + f.box.height);
      const keypoints = f.keypoints.map((v, i) => (i % 2 === 0 ? small.back(v, 0)[0] : small.back(0, v)[1]));
      return { ...f, box: { x, y, width: x2 - x, height: y2 - y }, keypoints };
    });
  }
  return [];
}
