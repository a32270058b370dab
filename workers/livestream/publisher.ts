// The legal delay: ffmpeg writes segments into a private work directory; a segment is copied to the
// public directory (served as /live/<hearing>/) only once it is `delaySeconds` old, so a cut drops what
// is still held back and it never reaches anybody. The publisher writes the public playlists itself:
// the media playlist, a WebVTT caption playlist with one caption segment per video segment (aligned by
// the segment's first PTS), and the master playlist that ties them together.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PublishedState } from './state.ts';

const run = promisify(execFile);
/** Segments listed in the public media playlist (older files stay a while for slow players). */
const WINDOW = 8;
const KEEP_FILES = 30;

export interface Caption {
  startMs: number;
  endMs: number;
  speaker: string;
  text: string;
  /** Already in a published caption segment. */
  shown?: boolean;
}

interface Segment {
  name: string;
  number: number;
  runId: number;
  startMs: number;
  duration: number;
  /** First of its run after another run: the player must reset its decoder (EXT-X-DISCONTINUITY). */
  discontinuity: boolean;
  /** When this publisher first saw it finished: no frame in it was taken later. */
  finishedAt: number;
}

const cueTime = (ms: number): string => {
  const t = Math.max(0, ms);
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor((t % 3_600_000) / 60_000);
  const s = Math.floor((t % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(Math.floor(t % 1000)).padStart(3, '0')}`;
};

export class LivePublisher {
  private readonly pending = new Map<string, Segment>();
  private readonly published: Segment[] = [];
  private readonly runsSeen = new Set<number>();
  /** Runs whose encoder may still write segments (see `runStarted`). */
  private readonly openRuns = new Set<number>();
  private lastRunId = -1;
  private timer?: NodeJS.Timeout;
  private busy = false;
  private ended = false;
  state: PublishedState = 'live';

  constructor(
    private readonly o: {
      workDir: string;
      publicDir: string;
      delaySeconds: number;
      captions: (fromMs: number, toMs: number) => Caption[];
      onPublish?: (segment: string) => void;
      /** A finished segment that does not parse (a run cut off mid-write): never published. */
      onSkip?: (segment: string, reason: string) => void;
    },
  ) {
    fs.mkdirSync(o.workDir, { recursive: true });
    fs.rmSync(o.publicDir, { recursive: true, force: true });
    fs.mkdirSync(o.publicDir, { recursive: true });
    this.writeMaster();
    this.writeStatus();
    this.timer = setInterval(() => void this.tick(), 250);
  }

  get segmentsPublished(): number {
    return this.published.length;
  }

  setState(state: PublishedState): void {
    this.state = state;
    this.writeStatus();
  }

  /**
   * A run starts writing segments. While it overlaps an older run (make-before-break), its segments wait
   * until every older run has ended, so the older one's last segments still go out first, in order.
   */
  runStarted(runId: number): void {
    this.openRuns.add(runId);
  }

  /** A run's encoder has exited: it writes nothing more. */
  runEnded(runId: number): void {
    this.openRuns.delete(runId);
  }

  /** Whether an older run may still write segments that go before this run's. */
  private waitsForOlderRun(runId: number): boolean {
    for (const r of this.openRuns) if (r < runId) return true;
    return false;
  }

  /** Cut: nothing held back is ever published; the public playlist ends now. */
  cut(): void {
    clearInterval(this.timer);
    this.ended = true;
    for (const s of this.pending.values()) fs.rmSync(path.join(this.o.workDir, s.name), { force: true });
    this.pending.clear();
    fs.rmSync(this.o.workDir, { recursive: true, force: true });
    this.state = 'cut';
    this.writePlaylists(true);
    this.writeStatus();
  }

  /** Stop: what is held back is still published after its delay, then the playlist ends. */
  async finish(): Promise<void> {
    await this.scan();
    const deadline = Date.now() + (this.o.delaySeconds + 10) * 1000;
    while (this.pending.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 50));
    if (this.state === 'cut') return; // replaced by a new stream meanwhile
    this.ended = true;
    this.state = 'ended';
    this.writePlaylists(true);
    this.writeStatus();
    fs.rmSync(this.o.workDir, { recursive: true, force: true });
  }

  private async tick(): Promise<void> {
    if (this.busy || this.ended) return;
    this.busy = true;
    try {
      await this.scan();
      const now = Date.now();
      // In number order, and none before an earlier one: an older run's last segments (finished while the
      // next run was starting, or flushed when it stopped) go out before the next run's first.
      for (const s of [...this.pending.values()].sort((a, b) => a.number - b.number)) {
        // The delay counts from the later of the segment's end by the encoder's clock and the moment it
        // was seen finished: the encoder's clock starts when it starts, seconds before its first frames on
        // a busy machine, so by that clock alone a segment would go out early by as much.
        const due = Math.max(s.startMs + s.duration * 1000, s.finishedAt) + this.o.delaySeconds * 1000 <= now;
        if (this.ended || !due || this.waitsForOlderRun(s.runId)) break;
        await this.publish(s);
      }
    } catch (error) {
      console.warn(`[live] ${(error as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  /** Reads every run's private playlist for segments ffmpeg has finished (they carry their wall clock). */
  private async scan(): Promise<void> {
    if (!fs.existsSync(this.o.workDir)) return;
    const runs = fs
      .readdirSync(this.o.workDir)
      .filter((f) => /^run-\d+\.m3u8$/.test(f))
      .map((f) => Number(/\d+/.exec(f)![0]))
      .sort((a, b) => a - b);
    for (const runId of runs) {
      const file = `run-${runId}.m3u8`;
      const lines = fs.readFileSync(path.join(this.o.workDir, file), 'utf8').split('\n');
      let pdt = 0;
      let duration = 0;
      for (const line of lines) {
        if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
        else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8));
        else if (/^seg_\d+\.ts$/.test(line.trim())) {
          const name = line.trim();
          const number = Number(/\d+/.exec(name)![0]);
          if (!this.pending.has(name) && !this.published.some((p) => p.name === name) && fs.existsSync(path.join(this.o.workDir, name))) {
            const discontinuity = !this.runsSeen.has(runId) && this.lastRunId !== -1;
            this.runsSeen.add(runId);
            this.lastRunId = runId;
            this.pending.set(name, { name, number, runId, startMs: pdt, duration, discontinuity, finishedAt: Date.now() });
          }
          pdt += duration * 1000;
        }
      }
    }
  }

  private async publish(s: Segment): Promise<void> {
    const from = path.join(this.o.workDir, s.name);
    if (!fs.existsSync(from)) return void this.pending.delete(s.name);
    // Only a segment that parses goes out: its first video packet must be readable.
    const pts = await firstVideoPts(from);
    if (typeof pts === 'string') {
      this.pending.delete(s.name);
      fs.rmSync(from, { force: true });
      this.o.onSkip?.(s.name, pts);
      return;
    }
    const captions = this.captionsFor(s, pts);
    // A cut while the captions were being prepared: this segment stays unpublished. Everything from
    // here on is synchronous, so a cut cannot fall between publishing and listing.
    if (this.ended) return;
    const to = path.join(this.o.publicDir, s.name);
    fs.copyFileSync(from, `${to}.tmp`);
    fs.renameSync(`${to}.tmp`, to);
    fs.writeFileSync(path.join(this.o.publicDir, s.name.replace(/\.ts$/, '.vtt')), captions);
    fs.rmSync(from, { force: true });
    this.pending.delete(s.name);
    this.published.push(s);
    for (const old of this.published.slice(0, -KEEP_FILES)) {
      fs.rmSync(path.join(this.o.publicDir, old.name), { force: true });
      fs.rmSync(path.join(this.o.publicDir, old.name.replace(/\.ts$/, '.vtt')), { force: true });
    }
    this.writePlaylists(false);
    this.o.onPublish?.(s.name);
  }

  /** The caption segment matching a video segment: cues in its wall-clock span, mapped to its first PTS. */
  private captionsFor(s: Segment, pts: number): string {
    const end = s.startMs + s.duration * 1000;
    const cues = this.o.captions(s.startMs, end).map((c) => {
      const from = Math.max(c.startMs, s.startMs) - s.startMs;
      // At least 2.5 s on screen, also for a cue that arrived after its own segment was out.
      const to = Math.min(Math.max(c.endMs, Math.max(c.startMs, s.startMs) + 2500), end) - s.startMs;
      return `${cueTime(from)} --> ${cueTime(Math.max(to, from + 500))}\n${c.speaker}: ${c.text.replace(/-->/g, '→')}\n`;
    });
    return `WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:${pts},LOCAL:00:00:00.000\n\n${cues.join('\n')}`;
  }

  private writePlaylists(endList: boolean): void {
    const window = this.published.slice(-WINDOW);
    const sequence = this.published.length - window.length;
    const target = Math.ceil(Math.max(2, ...window.map((s) => s.duration)));
    const discontinuities = this.published.slice(0, sequence).filter((s) => s.discontinuity).length;
    const head = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${target}`,
      `#EXT-X-MEDIA-SEQUENCE:${sequence}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuities}`,
    ];
    const body = (ext: 'ts' | 'vtt'): string[] =>
      window.flatMap((s) => [
        ...(s.discontinuity ? ['#EXT-X-DISCONTINUITY'] : []),
        `#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startMs).toISOString()}`,
        `#EXTINF:${s.duration.toFixed(3)},`,
        s.name.replace(/\.ts$/, `.${ext}`),
      ]);
    const tail = endList ? ['#EXT-X-ENDLIST'] : [];
    this.atomicWrite('video.m3u8', [...head, ...body('ts'), ...tail].join('\n') + '\n');
    this.atomicWrite('subs.m3u8', [...head, ...body('vtt'), ...tail].join('\n') + '\n');
  }

  private writeMaster(): void {
    this.atomicWrite(
      'index.m3u8',
      [
        '#EXTM3U',
        '#EXT-X-VERSION:3',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="captions",NAME="Captions",DEFAULT=NO,AUTOSELECT=NO,FORCED=NO,LANGUAGE="und",URI="subs.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=2200000,CODECS="avc1.4d401f,mp4a.40.2",SUBTITLES="captions"',
        'video.m3u8',
        '',
      ].join('\n'),
    );
  }

  private writeStatus(): void {
    this.atomicWrite(
      'status.json',
      JSON.stringify({
        state: this.state,
        segments: this.published.length,
        delaySeconds: this.o.delaySeconds,
        at: new Date().toISOString(),
      }),
    );
  }

  private atomicWrite(name: string, content: string): void {
    if (!fs.existsSync(this.o.publicDir)) return;
    const file = path.join(this.o.publicDir, name);
    fs.writeFileSync(`${file}.tmp`, content);
    fs.renameSync(`${file}.tmp`, file);
  }
}

/** The first video packet's PTS of an MPEG-TS segment, or why it cannot be read. */
async function firstVideoPts(tsFile: string): Promise<number | string> {
  try {
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1'],
      ...['-show_entries', 'packet=pts', '-of', 'csv=p=0', tsFile],
    ]);
    const pts = Number.parseInt(stdout.trim().split('\n')[0] ?? '', 10);
    return Number.isFinite(pts) ? pts : 'no video packet';
  } catch (error) {
    return ((error as { stderr?: string }).stderr ?? (error as Error).message).trim().slice(0, 200) || 'unreadable';
  }
}
