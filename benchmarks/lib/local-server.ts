// The real server, started in the benchmark's own process for a scenario: a fresh data directory,
// loopback, two media workers, the benchmark's API key. `close` stops it and removes its data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type HearingServer } from '../../server/app/server.ts';
import { configFromEnv, type Config } from '../../server/app/config.ts';

export async function localServer(
  name: string,
  overrides: Partial<Config> = {},
): Promise<{ server: HearingServer; close: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const server = await startServer({
    ...configFromEnv({}),
    port: 0,
    host: '127.0.0.1',
    dataDir,
    workers: 2,
    rtcMinPort: 30000,
    rtcMaxPort: 39999,
    apiKey: 'bench-api-key-0123456789',
    demo: false,
    ...overrides,
  });
  return {
    server,
    close: async () => {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
