// An IP camera on loopback for the tests: test/helpers/rtsp-camera.py (GStreamer's RTSP server).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export interface RtspCamera {
  port: number;
  /** rtsp://127.0.0.1:<port>/cam */
  url: string;
  /** The camera goes (its process killed: every session with it ends). */
  stop(): Promise<void>;
}

/** Starts the camera on `port` (0: any free one) and resolves once it listens. */
export function rtspCamera(port = 0): Promise<RtspCamera> {
  const child: ChildProcess = spawn('/usr/bin/python3', [path.join(import.meta.dirname, 'rtsp-camera.py'), String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the RTSP camera did not start: ${stderr}`));
    }, 15_000);
    child.once('exit', (code) => reject(new Error(`the RTSP camera exited (${code}): ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^port (\d+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      const bound = Number(m[1]);
      resolve({
        port: bound,
        url: `rtsp://127.0.0.1:${bound}/cam`,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      });
    });
  });
}
