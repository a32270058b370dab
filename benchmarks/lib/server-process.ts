import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server started as its own process: its output so far, and a wait for a line of it. */
export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves once the output has `text` (after `from`, a length of the output), rejects at exit or timeout. */
  waitFor: (text: string | RegExp, timeoutMs?: number, from?: number) => Promise<void>;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
}

/** The real server (`server/app/main.ts`) as its own process, so a test can kill -9 it; resolves once it listens. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  // Tied to this process (setpriv execs node, so the pid is the server's): a test or benchmark that dies
  // or is stopped mid-way leaves no server running on behind it.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'node', '--import', 'tsx', 'server/app/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const waitFor = (text: string | RegExp, timeoutMs = 30_000, from = 0) =>
    new Promise<void>((resolve, reject) => {
      const found = () => (typeof text === 'string' ? output.slice(from).includes(text) : text.test(output.slice(from)));
      const done = (error?: Error) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (found()) done();
      };
      const timer = setTimeout(
        () => done(new Error(`no ${String(text)} in the server's output within ${timeoutMs} ms: ${output}`)),
        timeoutMs,
      );
      listeners.add(check);
      void exited.then((code) => (found() ? done() : done(new Error(`the server exited (${code}): ${output}`))));
      check();
    });
  const started: ServerProcess = { child, output: () => output, waitFor, exited };
  await waitFor('listening on');
  return started;
}
