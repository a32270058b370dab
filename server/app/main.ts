import { configFromEnv } from './config.ts';
import { startServer } from './server.ts';
import { ensureDemoHearing } from './demo.ts';
import { installProcessGuard } from './guard.ts';
import { turnUrls } from './turn.ts';

installProcessGuard();

const config = configFromEnv();
const server = await startServer(config);
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
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`[server] ${signal}: shutting down`);
    void server.close().then(() => process.exit(0));
  });
}
