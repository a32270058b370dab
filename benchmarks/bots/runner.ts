// The bots of a load test in a process of their own, so that their CPU is told apart from the server's
// (which may run in the benchmark's process). Started by BotRunner.start(); joins the bots it is sent,
// and answers with their counts and its own CPU time.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bot, BotError, type ReceivePath, type ReceivedStats } from './bot.ts';

export interface BotReport {
  participantId: string;
  joinMs: number | null;
  error: { code: string; message: string } | null;
  sent: { audio: number; video: number };
  received: ReceivedStats[];
  transports: { send: string | null; recv: string | null };
}

type ToRunner =
  | { type: 'join'; id: number; url: string; token: string; publish: boolean; receive?: ReceivePath }
  | { type: 'report'; id: number }
  | { type: 'ping'; id: number; times: number }
  | { type: 'close'; id: number };
type FromRunner =
  | { type: 'joined'; id: number; report: BotReport }
  | { type: 'report'; id: number; reports: BotReport[]; cpuSeconds: number }
  | { type: 'pinged'; id: number; rttMs: number[]; failed: number }
  | { type: 'closed'; id: number };

/** The parent's handle on a runner process. */
export class BotRunner {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (m: FromRunner) => void; reject: (e: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: FromRunner) => {
      this.waiting.get(m.id)?.resolve(m);
      this.waiting.delete(m.id);
    });
    // A bot process that dies leaves nobody waiting for it: what was asked of it fails, saying so.
    child.on('exit', (code, signal) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the bot process exited (${signal ?? code})`));
      this.waiting.clear();
    });
  }

  static start(): BotRunner {
    return new BotRunner(
      fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Joins one bot (it publishes, unless told not to, and subscribes); resolves with its join time or its refusal. */
  async join(url: string, token: string, o: { publish?: boolean; receive?: ReceivePath } = {}): Promise<BotReport> {
    const m = await this.ask({ type: 'join', id: 0, url, token, publish: o.publish !== false, receive: o.receive });
    return (m as Extract<FromRunner, { type: 'joined' }>).report;
  }

  async report(): Promise<{ reports: BotReport[]; cpuSeconds: number }> {
    const m = (await this.ask({ type: 'report', id: 0 })) as Extract<FromRunner, { type: 'report' }>;
    return { reports: m.reports, cpuSeconds: m.cpuSeconds };
  }

  /** Signaling round trips of every joined bot, `times` each in a row (all bots at once), and the pings that failed. */
  async ping(times: number): Promise<{ rttMs: number[]; failed: number }> {
    const m = (await this.ask({ type: 'ping', id: 0, times })) as Extract<FromRunner, { type: 'pinged' }>;
    return { rttMs: m.rttMs, failed: m.failed };
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await Promise.race([this.ask({ type: 'close', id: 0 }).catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
    this.child.kill('SIGKILL');
  }

  private ask(m: ToRunner): Promise<FromRunner> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error('the bot process has exited'));
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...m, id });
    });
  }
}

// In the runner process.
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  const bots: { bot: Bot; joinMs: number | null; error: BotReport['error'] }[] = [];
  const reportOf = (b: (typeof bots)[number]): BotReport => ({
    participantId: b.bot.participantId,
    joinMs: b.joinMs,
    error: b.error,
    sent: { ...b.bot.sent },
    received: b.bot.received(),
    transports: b.bot.transports(),
  });
  process.on('message', (m: ToRunner) => {
    const reply = (r: FromRunner) => process.send?.(r);
    if (m.type === 'join') {
      const bot = new Bot(m.url, m.token, { receive: m.receive });
      const started = Date.now();
      const entry: (typeof bots)[number] = { bot, joinMs: null, error: null };
      bots.push(entry);
      bot.join({ publish: m.publish }).then(
        () => {
          entry.joinMs = Date.now() - started;
          reply({ type: 'joined', id: m.id, report: reportOf(entry) });
        },
        (error: Error) => {
          entry.error = { code: error instanceof BotError ? error.code : 'join_failed', message: error.message };
          reply({ type: 'joined', id: m.id, report: reportOf(entry) });
        },
      );
    } else if (m.type === 'report') {
      const u = process.cpuUsage();
      reply({ type: 'report', id: m.id, reports: bots.map(reportOf), cpuSeconds: (u.user + u.system) / 1e6 });
    } else if (m.type === 'ping') {
      const rttMs: number[] = [];
      let failed = 0;
      void Promise.all(
        bots
          .filter((b) => !b.error && b.joinMs !== null)
          .map(async (b) => {
            for (let i = 0; i < m.times; i++)
              await b.bot.ping().then(
                (ms) => rttMs.push(ms),
                () => failed++,
              );
          }),
      ).then(() => reply({ type: 'pinged', id: m.id, rttMs, failed }));
    } else {
      void Promise.all(bots.map((b) => b.bot.close())).then(() => {
        reply({ type: 'closed', id: m.id });
        process.exit(0);
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
