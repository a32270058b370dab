// Child process: our whole server (REST, signaling, media workers, recorder), as an operator runs it, so
// that its CPU (this process and every process it starts) is measured apart from the benchmark's own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv } from '../../server/app/config.ts';

export type ToOurs = { type: 'start'; ip: string; rtcPorts: [number, number] } | { type: 'stop' };
export type FromOurs = { type: 'started'; url: string; apiKey: string } | { type: 'error'; message: string };

let server: HearingServer | undefined;
const send = (m: FromOurs): void => void process.send?.(m);

process.on('message', (m: ToOurs) => {
  if (m.type === 'start') {
    startServer({
      ...configFromEnv({}),
      port: 0,
      host: m.ip,
      listenIp: m.ip,
      announcedIp: undefined,
      rtcMinPort: m.rtcPorts[0],
      rtcMaxPort: m.rtcPorts[1],
      dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-peer-ours-')),
      apiKey: 'bench-peer-api-key-0123456789',
      demo: false,
    }).then(
      (s) => {
        server = s;
        send({ type: 'started', url: s.url, apiKey: s.secrets.apiKey });
      },
      (error: Error) => send({ type: 'error', message: error.message }),
    );
  } else {
    void (server?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  }
});
