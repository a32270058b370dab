// The mixed review file: one ffmpeg pass, after the hearing, that lines every track up by wall clock
// into a single playable MP4 (a grid of the video tracks, all audio mixed). It is a convenience copy
// for reading the hearing back: never part of the record, never instead of the per-track originals.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readManifest, type SegmentLine } from './manifest.ts';

/** Consecutive segments of one track with no hole between them (one recorder run). */
interface Run {
  kind: 'audio' | 'video';
  track: string;
  files: string[];
  startMs: number;
}

const WIDTH = 1280;
const HEIGHT = 720;
/** A hole longer than this between two segments of a track starts a new run (a pause, a stall). */
const RUN_BREAK_MS = 300;

function runsOf(segments: SegmentLine[]): Run[] {
  const runs: Run[] = [];
  const last = new Map<string, { run: Run; endMs: number }>();
  for (const s of [...segments].sort((a, b) => Date.parse(a.start) - Date.parse(b.start))) {
    const startMs = Date.parse(s.start);
    const open = last.get(s.track);
    if (open && startMs - open.endMs <= RUN_BREAK_MS) open.run.files.push(s.file);
    else {
      const run: Run = { kind: s.kind, track: s.track, files: [s.file], startMs };
      runs.push(run);
      last.set(s.track, { run, endMs: Date.parse(s.end) });
      continue;
    }
    open.endMs = Date.parse(s.end);
  }
  return runs;
}

export interface ReviewPlan {
  args: string[];
  /** Wall clock of the file's time 0 (the first recorded media). */
  originMs: number;
  durationSeconds: number;
  tracks: number;
}

/** ffmpeg arguments that render a hearing record into `output`; list files are written into `workDir`. */
export function planReview(recordDir: string, output: string, workDir: string): ReviewPlan {
  const segments = readManifest(recordDir).lines.filter(
    (l): l is SegmentLine & { seq: number; at: string; hearingId: string; prev: string } => l.type === 'segment',
  );
  if (!segments.length) throw new Error('the record has no segments');
  const runs = runsOf(segments);
  const originMs = Math.min(...segments.map((s) => Date.parse(s.start)));
  const endMs = Math.max(...segments.map((s) => Date.parse(s.end)));
  const durationSeconds = (endMs - originMs) / 1000;
  const videoTracks = [...new Set(runs.filter((r) => r.kind === 'video').map((r) => r.track))];
  const cols = Math.max(1, Math.ceil(Math.sqrt(videoTracks.length)));
  const rows = Math.max(1, Math.ceil(videoTracks.length / cols));
  const tileW = Math.floor(WIDTH / cols / 2) * 2;
  const tileH = Math.floor(HEIGHT / rows / 2) * 2;

  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y'];
  const filters: string[] = [`color=c=black:s=${WIDTH}x${HEIGHT}:r=25:d=${durationSeconds.toFixed(3)}[base0]`];
  const audio: string[] = [];
  let base = 'base0';
  runs.forEach((run, i) => {
    const list = path.join(workDir, `run-${i}.txt`);
    fs.writeFileSync(list, run.files.map((f) => `file '${path.join(recordDir, f).replaceAll("'", "'\\''")}'\n`).join(''));
    args.push('-f', 'concat', '-safe', '0', '-i', list);
    const offset = (run.startMs - originMs) / 1000;
    if (run.kind === 'audio') {
      filters.push(`[${i}:a]aresample=48000,adelay=delays=${Math.round(offset * 1000)}:all=1[a${i}]`);
      audio.push(`[a${i}]`);
    } else {
      const tile = videoTracks.indexOf(run.track);
      const x = (tile % cols) * tileW;
      const y = Math.floor(tile / cols) * tileH;
      filters.push(
        `[${i}:v]setpts=PTS-STARTPTS+${offset.toFixed(3)}/TB,scale=${tileW}:${tileH}:force_original_aspect_ratio=decrease,pad=${tileW}:${tileH}:(ow-iw)/2:(oh-ih)/2[v${i}]`,
        `[${base}][v${i}]overlay=${x}:${y}:eof_action=pass[base${i + 1}]`,
      );
      base = `base${i + 1}`;
    }
  });
  args.push(
    '-filter_complex',
    [...filters, ...(audio.length ? [`${audio.join('')}amix=inputs=${audio.length}:duration=longest:normalize=0[aout]`] : [])].join(';'),
  );
  args.push('-map', `[${base}]`);
  if (audio.length) args.push('-map', '[aout]', '-c:a', 'aac', '-b:a', '96k');
  args.push(
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '28',
    '-pix_fmt',
    'yuv420p',
    '-t',
    durationSeconds.toFixed(3),
    '-movflags',
    '+faststart',
    output,
  );
  return { args, originMs, durationSeconds, tracks: new Set(runs.map((r) => r.track)).size };
}

/** Renders the review file (at low priority: it must not take CPU from live hearings). */
export async function buildReview(recordDir: string, output: string): Promise<ReviewPlan> {
  const workDir = fs.mkdtempSync(`${output}.work-`);
  try {
    const plan = planReview(recordDir, `${output}.part.mp4`, workDir);
    await new Promise<void>((resolve, reject) => {
      const ffmpeg = spawn('nice', ['-n', '10', 'ffmpeg', ...plan.args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      ffmpeg.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
      ffmpeg.on('error', reject);
      ffmpeg.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`))));
    });
    fs.renameSync(`${output}.part.mp4`, output);
    return plan;
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(`${output}.part.mp4`, { force: true });
  }
}
