import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import type { RecognitionEvents, RecognitionStream, SpeechEngine, Utterance } from './engine.ts';
import { spawnTied } from '../taps/children.ts';

const FILLERS = new Set(['<s>', '</s>', '<sil>', '[NOISE]', '[SPEECH]', '[BREATH]', '[COUGH]', '[SMACK]', '[UH]', '[UM]']);

/**
 * Parses `pocketsphinx_continuous -time yes` output: per utterance a hypothesis line, then one line
 * per word `word start end posterior` (stream seconds), ending with `</s>`.
 */
export class PocketsphinxParser {
  private words: Utterance['words'] = [];
  private text = '';

  /** Feeds one output line; returns an utterance when one is complete. */
  line(raw: string): Utterance | undefined {
    const line = raw.trim();
    if (!line) return undefined;
    const m = /^(\S+) (\d+\.\d+) (\d+\.\d+) (-?\d+(?:\.\d+)?)$/.exec(line);
    if (!m) {
      this.text = line;
      this.words = [];
      return undefined;
    }
    const word = m[1]!.replace(/\(\d+\)$/, '');
    if (word === '</s>') {
      const words = this.words;
      const text = this.text;
      this.words = [];
      this.text = '';
      if (!words.length) return undefined;
      return {
        startSec: words[0]!.startSec,
        endSec: words.at(-1)!.endSec,
        text: text || words.map((w) => w.word).join(' '),
        confidence: Number((words.reduce((s, w) => s + Math.min(1, w.p), 0) / words.length).toFixed(3)),
        words,
      };
    }
    if (!FILLERS.has(word)) this.words.push({ word, startSec: Number(m[2]), endSec: Number(m[3]), p: Number(m[4]) });
    return undefined;
  }
}

class PocketsphinxStream extends EventEmitter<RecognitionEvents> implements RecognitionStream {
  readonly engine = 'pocketsphinx';
  private readonly ffmpeg;
  private readonly asr;
  private stderr = '';

  constructor(sdpFile: string) {
    super();
    // ffmpeg → a named pipe → pocketsphinx: pocketsphinx reads a file path, and Node's own stdio pipes
    // are sockets it cannot open.
    const fifo = path.join(path.dirname(sdpFile), 'pcm.fifo');
    execFileSync('mkfifo', [fifo]);
    // Decode the speaker's Opus to 16 kHz mono PCM; timestamp gaps (DTX, pauses) become silence so
    // stream time stays aligned with the speaker's clock.
    this.ffmpeg = spawnTied(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file,udp,rtp',
        '-listen_timeout',
        '3600',
        '-f',
        'sdp',
        '-i',
        sdpFile,
        '-af',
        'aresample=async=1:first_pts=0',
        '-ar',
        '16000',
        '-ac',
        '1',
        '-f',
        's16le',
        '-y',
        fifo,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // Debian's default model: /usr/share/pocketsphinx/model/en-us (acoustic model, LM, dictionary).
    this.asr = spawnTied('pocketsphinx_continuous', ['-infile', fifo, '-time', 'yes', '-logfn', '/dev/null'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.ffmpeg.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-1000)));
    this.asr.stderr.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-1000)));
    const parser = new PocketsphinxParser();
    readline.createInterface({ input: this.asr.stdout }).on('line', (l) => {
      const u = parser.line(l);
      if (u) this.emit('utterance', u);
    });
    let ended = false;
    const end = (code: number | null): void => {
      if (ended) return;
      ended = true;
      this.emit('ended', { code, error: code === 0 || code === null ? undefined : this.stderr.trim().slice(-500) });
    };
    this.asr.on('close', end);
    this.asr.on('error', (e) => {
      this.stderr += e.message;
      end(-1);
    });
    this.ffmpeg.on('error', (e) => (this.stderr += e.message));
    // pocketsphinx waits in open() until ffmpeg opens the pipe for writing: if ffmpeg ends without ever
    // having had media to write, nothing else would end pocketsphinx.
    this.ffmpeg.on('close', () => setTimeout(() => this.asr.exitCode === null && this.asr.kill('SIGKILL'), 15_000).unref());
  }

  /**
   * ffmpeg leaves at its next packet on SIGINT (or is killed if the speaker is muted); either way its
   * output ends, and pocketsphinx finishes the last utterance from the audio it has, then exits.
   */
  stop(): void {
    if (this.ffmpeg.exitCode === null) this.ffmpeg.kill('SIGINT');
    setTimeout(() => this.ffmpeg.exitCode === null && this.ffmpeg.kill('SIGKILL'), 1500).unref();
    setTimeout(() => this.asr.exitCode === null && this.asr.kill('SIGKILL'), 15_000).unref();
  }

  kill(): void {
    for (const child of [this.ffmpeg, this.asr]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** Debian's pocketsphinx with its US English model: offline, English only, weak but real. */
export const pocketsphinxEngine: SpeechEngine = {
  name: 'pocketsphinx',
  languages: ['en'],
  start: ({ sdpFile }) => new PocketsphinxStream(sdpFile),
};
