import { configFromEnv } from './config.ts';
import { startServer } from './server.ts';
import { ensureDemoHearing } from './demo.ts';
import { installProcessGuard } from './guard.ts';
import { turnUrls } from './turn.ts';

installProcessGuard();

// A server that cannot start (its configuration, its cluster's Redis, a port taken) says why and exits
// non-zero: the guard above would otherwise keep a process without a server alive.
const server = await (async () => {
  try {
    return await startServer(configFromEnv());
  } catch (error) {
    console.error(`[server] cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
})();
const config = server.config;
console.log(`[server] listening on ${server.url} (data: ${config.dataDir}, media workers: ${server.plane.pool.workers.length})`);
if (server.tls) console.log(`[server] HTTPS certificate ${server.tls.certFile}, SHA-256 ${server.tls.fingerprint}`);
if (config.turn)
  console.log(`[server] TURN (${config.turn.mode}, policy ${config.turn.policy}): ${turnUrls(config.turn, Boolean(server.tls)).join(' ')}`);
if (server.secrets.apiKeyGenerated) {
  console.log(`[server] generated API key (shown once; stored in ${config.dataDir}/secrets.json): ${server.secrets.apiKey}`);
}
if (config.demo) {
  const demo = await ensureDemoHearing(server.hearings);
  console.log(`[demo] hearing ${demo.hearing.caseNumber} (${demo.hearing.id})`);
  for (const p of demo.links) console.log(`[demo] ${p.role.padEnd(6)} ${p.name}: ${p.joinUrl}`);
  // The same party in the example court platform page (the SDK's mountHearing; the token in the fragment).
  const party = demo.links.find((p) => p.role === 'party');
  if (party) console.log(`[demo] embedded in a platform page: ${party.joinUrl.replace('/join?token=', '/embed-example#token=')}`);
}

let stopping = false;
let draining = false;
const stop = (why: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`[server] ${why}: shutting down`);
  void server.close().then(() => process.exit(0));
};
// In a cluster, SIGTERM drains first (no new hearings here; those in session finish), as does
// POST /api/v1/admin/drain; a second signal, or SIGINT, stops at once.
void server.drained.then(() => stop('drained'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (signal === 'SIGTERM' && server.cluster && !draining) {
      draining = true;
      console.log('[server] SIGTERM: draining (send it again to stop at once)');
      void server.drain();
      return;
    }
    stop(signal);
  });
}
