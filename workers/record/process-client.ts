import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { guardChild } from '../taps/children.ts';
import type { FromRecorder, ToRecorder } from './messages.ts';
import { disconnectChild } from '../taps/children.ts';

interface ClientEvents {
  message: [m: FromRecorder];
  /** The recorder process died; every track it had is gone. */
  crashed: [info: { code: number | null; signal: string | null }];
}

/** The server's handle on the recorder process; restarts it if it dies. */
export class RecorderProcessClient extends EventEmitter<ClientEvents> {
  private child?: ChildProcess;
  private closing = false;

  constructor(
    private readonly portRange: { min: number; max: number },
    private readonly o: { writer: 'mux' | 'ffmpeg'; holdMs: number } = { writer: 'mux', holdMs: 2000 },
  ) {
    super();
    this.spawn();
  }

  /** The recorder process (for CPU accounting in benchmarks). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  send(message: ToRecorder): void {
    if (this.child?.connected) this.child.send(message);
  }

  async close(): Promise<void> {
    this.closing = true;
    // Disconnecting makes the recorder close every segment properly and exit.
    await disconnectChild(this.child, 8000);
  }

  private spawn(): void {
    const child = fork(fileURLToPath(new URL('./process.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        RECORDER_WRITER: this.o.writer,
        RECORDER_HOLD_MS: String(this.o.holdMs),
        RECORDER_PORT_MIN: String(this.portRange.min),
        RECORDER_PORT_MAX: String(this.portRange.max),
      },
    });
    this.child = guardChild(child, 'recorder process');
    child.on('message', (m: FromRecorder) => this.emit('message', m));
    child.on('exit', (code, signal) => {
      if (this.closing) return;
      this.emit('crashed', { code, signal });
      this.spawn();
    });
  }
}
