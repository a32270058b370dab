import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams, type SpawnOptions } from 'node:child_process';

const children = new Set<ChildProcess>();
let installed = false;

/**
 * A child that dies takes its pipes with it: a write to its stdin then fails with EPIPE, a message to a
 * forked child with ERR_IPC_CHANNEL_CLOSED, and each is an 'error' event that, unhandled, ends this
 * process. Every child's own errors and its pipes' are logged here instead; its exit is what its owner
 * follows (and records).
 */
export function guardChild<T extends ChildProcess>(child: T, label = String(child.spawnargs.slice(0, 5).join(' '))): T {
  const report = (where: string) => (error: Error) =>
    console.warn(`[child ${child.pid ?? '?'} ${label.slice(0, 80)}] ${where}: ${error.message}`);
  child.on('error', report('process'));
  child.stdin?.on('error', report('stdin'));
  child.stdout?.on('error', report('stdout'));
  child.stderr?.on('error', report('stderr'));
  return child;
}

/**
 * Long-lived helper processes (decoders, the program encoder) must not outlive this process, whatever
 * path it leaves by (a failed shutdown, an uncaught error, the end of a test run): on 'exit' every one
 * still running is killed. A process killed with SIGKILL cannot run this; those children end at their
 * input timeout or when their pipe closes.
 */
export function reapOnExit<T extends ChildProcess>(child: T): T {
  guardChild(child);
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  return child;
}

/** Disconnects a forked child (its cue to finish its work and exit) and kills it if it has not within `graceMs`. */
export function disconnectChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    if (child.connected) child.disconnect();
    setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, graceMs).unref();
  });
}

/**
 * Spawns a helper that dies with this process even when this process is killed outright (SIGKILL, a
 * crash): util-linux `setpriv --pdeathsig KILL` sets the kernel's parent-death signal, then runs the
 * command. Also reaped on a normal exit.
 */
export function spawnTied(command: string, args: string[], options: SpawnOptions): ChildProcessWithoutNullStreams {
  // Typed as all-piped: callers touch only the streams their `stdio` pipes.
  return reapOnExit(spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], options)) as ChildProcessWithoutNullStreams;
}
