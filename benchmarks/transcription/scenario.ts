import { localServer } from '../lib/local-server.ts';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WhisperEngine } from '../../workers/transcript/whisper.ts';
import { LIBRIVOX, librivoxReference, wordErrorRate } from '../lib/speech.ts';
import { childPids, coresBusy, machineCpu, processName, processRssMiB } from '../lib/proc.ts';
import type { Progress, ScenarioOutcome } from '../lib/scenario.ts';

export interface TranscriptionOptions {
  /** Concurrent speakers to try in the live pipeline. */
  speakers: number[];
  /** whisper ggml model; without it whisper is not measured (said in the report). */
  model?: string;
}

/** Synthesized speech with known text (espeak-ng): English for every engine, Mandarin for whisper. */
const SENTENCES = {
  en: ['The witness signed the contract on the third of March.', 'The court will now hear the closing statement of the defendant.'],
  zh: ['本庭现在开庭审理原告李明诉被告张华合同纠纷一案。', '请当事人陈述诉讼请求和事实理由。'],
};

/** Character error rate (for Mandarin): character-level Levenshtein distance / reference length. */
function characterErrorRate(reference: string, hypothesis: string): number {
  const r = [...reference.replace(/[\s，。、？！]/g, '')];
  const h = [...hypothesis.replace(/[\s，。、？！,.?!]/g, '')];
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[h.length]! / Math.max(1, r.length);
}

function synthesize(text: string, voice: 'en' | 'cmn', dir: string, i: number): string {
  const file = path.join(dir, `${voice}-${i}.wav`);
  execFileSync('espeak-ng', ['-v', voice, '-w', file, text]);
  return file;
}

const CLIPS = fs
  .readFileSync(path.join(LIBRIVOX, 'fileids'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);
const wav = (clip: string): string => path.join(LIBRIVOX, `${clip}.wav`);
const duration = (file: string): number =>
  Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }));
const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : 0;
};
const round = (n: number, d = 3): number => Number(n.toFixed(d));

interface OfflineRow {
  engine: string;
  clip: string;
  language: string;
  seconds: number;
  rtf: number;
  wer: number;
  text: string;
}
interface Sample {
  clip: string;
  file: string;
  reference: string;
  language: 'en' | 'zh';
}

/** Error rate: words for English, characters for Mandarin. */
const errorRate = (s: Sample, text: string): number =>
  s.language === 'zh' ? characterErrorRate(s.reference, text) : wordErrorRate(s.reference, text);

function offlinePocketsphinx(sample: Sample): OfflineRow {
  const pcmFile = `${sample.file}.16k.wav`;
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', sample.file, '-ar', '16000', '-ac', '1', pcmFile]);
  const started = process.hrtime.bigint();
  const out = spawnSync('pocketsphinx_continuous', ['-infile', pcmFile, '-logfn', '/dev/null'], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const text = out.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  const seconds = duration(pcmFile);
  return {
    engine: 'pocketsphinx',
    clip: sample.clip,
    language: sample.language,
    seconds,
    rtf: round(wall / seconds),
    wer: round(errorRate(sample, text)),
    text,
  };
}

async function offlineWhisper(engine: WhisperEngine, sample: Sample): Promise<OfflineRow> {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', sample.file, '-f', 'f32le', '-ar', '16000', '-ac', '1', 'pipe:1'], {
    maxBuffer: 1e8,
  });
  const pcm = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const started = process.hrtime.bigint();
  const segments = (await engine.transcribe(pcm, sample.language)) ?? [];
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const text = segments.map((s) => s.text).join(' ');
  const seconds = pcm.length / 16000;
  return {
    engine: 'whisper',
    clip: sample.clip,
    language: sample.language,
    seconds,
    rtf: round(wall / seconds),
    wer: round(errorRate(sample, text)),
    text,
  };
}

interface LiveRow {
  engine: string;
  speakers: number;
  latencyP50: number;
  latencyP95: number;
  segments: number;
  machineCores: number;
  asrRssMiB: number;
  missing: number;
}

/** N speakers at once through the real server: Opus RTP in, final text out; latency from the end of speech. */
async function live(engine: 'pocketsphinx' | 'whisper', speakers: number, model: string | undefined): Promise<LiveRow> {
  const { server, close } = await localServer('asr', {
    recordPortMin: 20000,
    recordPortMax: 26999,
    asrPortMin: 28000,
    asrPortMax: 29999,
    asrModel: model,
  });
  try {
    const hearing = server.hearings.create(
      { caseNumber: 'BENCH-ASR', title: 'transcription benchmark', asr: { engine, language: 'en' } },
      'bench',
    );
    const room = await server.plane.room(hearing.id);
    const senders: { participantId: string; port: number; clip: string }[] = [];
    for (let i = 0; i < speakers; i++) {
      const p = await server.hearings.addParticipant(hearing.id, { name: `Speaker ${i}`, role: 'party' }, 'bench');
      const ingest = await room.createPlainTransport(p.id, 'send', { comedia: true });
      await room.produce(
        p.id,
        ingest.id,
        'audio',
        { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 5000 + i }] },
        'mic',
      );
      senders.push({ participantId: p.id, port: ingest.tuple.localPort, clip: CLIPS[i % CLIPS.length]! });
    }
    server.hearings.transition(hearing.id, 'waiting_room', 'bench');
    server.hearings.transition(hearing.id, 'open', 'bench');
    await new Promise((r) => setTimeout(r, 1000));
    const lastArrival = new Map<string, number>();
    let segments = 0;
    server.transcriber.on('segment', (s) => {
      segments++;
      lastArrival.set(s.participantId, Date.now());
    });
    const cpu0 = machineCpu();
    // Peak resident memory of the recognizer processes (pocketsphinx + its decoders) or, for whisper,
    // of this process, which holds the model.
    let asrRssMiB = 0;
    const rssTimer = setInterval(() => {
      const pids =
        engine === 'whisper' ? [process.pid] : childPids(process.pid).filter((pid) => /pocketsphinx|ffmpeg/.test(processName(pid)));
      asrRssMiB = Math.max(
        asrRssMiB,
        pids.reduce((sum, pid) => sum + processRssMiB(pid), 0),
      );
    }, 500);
    const speechEnds = await Promise.all(
      senders.map(async (s, i) => {
        const ffmpeg = spawn('ffmpeg', [
          '-v',
          'error',
          '-re',
          '-i',
          wav(s.clip),
          '-af',
          'apad=pad_dur=4',
          '-c:a',
          'libopus',
          '-ar',
          '48000',
          '-ac',
          '2',
          '-payload_type',
          '100',
          '-ssrc',
          String(5000 + i),
          '-f',
          'rtp',
          `rtp://127.0.0.1:${s.port}`,
        ]);
        const started = Date.now();
        await new Promise((r) => ffmpeg.on('close', r));
        return { participantId: s.participantId, end: started + duration(wav(s.clip)) * 1000 };
      }),
    );
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(rssTimer);
    const cpu1 = machineCpu();
    const latencies = speechEnds.flatMap((s) =>
      lastArrival.has(s.participantId) ? [(lastArrival.get(s.participantId)! - s.end) / 1000] : [],
    );
    return {
      engine,
      speakers,
      latencyP50: round(quantile(latencies, 0.5), 2),
      latencyP95: round(quantile(latencies, 0.95), 2),
      segments,
      machineCores: round(coresBusy(cpu0, cpu1), 2),
      asrRssMiB: round(asrRssMiB, 1),
      missing: speakers - latencies.length,
    };
  } finally {
    await close();
  }
}

/** RTF and WER per engine on the LibriVox clips, then final-text latency with 1..N concurrent speakers. */
export async function transcriptionScenario(o: TranscriptionOptions, progress: Progress): Promise<ScenarioOutcome> {
  const engines: ('pocketsphinx' | 'whisper')[] = o.model ? ['pocketsphinx', 'whisper'] : ['pocketsphinx'];
  const steps = engines.length * (1 + o.speakers.length);
  let step = 0;
  const offline: OfflineRow[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-speech-'));
  const english: Sample[] = [
    ...CLIPS.map((clip) => ({ clip, file: wav(clip), reference: librivoxReference(clip), language: 'en' as const })),
    ...SENTENCES.en.map((text, i) => ({
      clip: `espeak-en-${i}`,
      file: synthesize(text, 'en', tmp, i),
      reference: text,
      language: 'en' as const,
    })),
  ];
  const mandarin: Sample[] = SENTENCES.zh.map((text, i) => ({
    clip: `espeak-zh-${i}`,
    file: synthesize(text, 'cmn', tmp, i),
    reference: text,
    language: 'zh' as const,
  }));
  const lives: LiveRow[] = [];
  for (const engine of engines) {
    progress(step / steps, `${engine} offline`);
    if (engine === 'pocketsphinx') for (const sample of english) offline.push(offlinePocketsphinx(sample));
    else {
      const whisper = await WhisperEngine.load(o.model!);
      for (const sample of [...english, ...mandarin]) offline.push(await offlineWhisper(whisper, sample));
      await whisper.release();
    }
    step++;
    for (const n of o.speakers) {
      progress(step / steps, `${engine} live, ${n} speaker(s)`);
      lives.push(await live(engine, n, o.model));
      step++;
    }
  }
  progress(1, 'done');
  const per = (engine: string) => offline.filter((r) => r.engine === engine);
  const summary: Record<string, unknown> = {
    whisper: o.model ? `model ${o.model}` : 'not measured: no model (pass --asr-model or set HEARING_ASR_MODEL)',
  };
  const targets: ScenarioOutcome['targets'] = [];
  for (const engine of engines) {
    const rows = per(engine);
    const mean = (list: OfflineRow[], pick: (r: OfflineRow) => number): number =>
      list.length ? round(list.reduce((sum, r) => sum + pick(r), 0) / list.length) : 0;
    const rtf = mean(rows, (r) => r.rtf);
    const wer = mean(
      rows.filter((r) => r.language === 'en' && !r.clip.startsWith('espeak')),
      (r) => r.wer,
    );
    const werSynthetic = mean(
      rows.filter((r) => r.language === 'en' && r.clip.startsWith('espeak')),
      (r) => r.wer,
    );
    const cerMandarin = mean(
      rows.filter((r) => r.language === 'zh'),
      (r) => r.wer,
    );
    const engineLives = lives.filter((l) => l.engine === engine);
    const ok = engineLives.filter((l) => l.latencyP95 <= 2 && l.missing === 0);
    summary[engine] = {
      rtf,
      wer,
      werSynthetic,
      ...(engine === 'whisper' ? { cerMandarin } : {}),
      latency: Object.fromEntries(engineLives.map((l) => [`${l.speakers} speakers`, { p50: l.latencyP50, p95: l.latencyP95 }])),
      maxSpeakersFinalWithin2s: ok.length ? Math.max(...ok.map((l) => l.speakers)) : 0,
    };
    targets.push({ name: `${engine}.rtf`, value: rtf, target: '<= 0.3', ok: rtf <= 0.3 });
    const single = engineLives.find((l) => l.speakers === Math.min(...o.speakers));
    if (single)
      targets.push({
        name: `${engine}.finalLatencyP95`,
        value: single.latencyP95,
        target: '<= 2 s',
        ok: single.latencyP95 <= 2 && single.missing === 0,
      });
    if (engine === 'whisper') targets.push({ name: 'whisper.wer', value: wer, target: '<= 0.10', ok: wer <= 0.1 });
  }
  return {
    summary,
    targets,
    samples: { offline, live: lives },
    table: {
      columns: [
        'engine',
        'speakers',
        'latency p50 s',
        'latency p95 s',
        'segments',
        'machine cores busy',
        'recognizer RSS MiB',
        'speakers with no text',
      ],
      rows: lives.map((l) => [l.engine, l.speakers, l.latencyP50, l.latencyP95, l.segments, l.machineCores, l.asrRssMiB, l.missing]),
    },
    chart: {
      title: 'Real-time factor per clip (lower is faster)',
      bars: offline.map((r) => ({ label: `${r.engine} ${r.clip.slice(-6)}`, value: r.rtf })),
    },
  };
}
