// The test suite in its two lanes at once (vitest.config.ts): `media` (real mediasoup workers, Chromium,
// encoders) and `light` (no browser, little CPU), each one file at a time. Exits non-zero when either
// lane fails. Arguments go to both lanes (a file filter: a lane with none of the files passes empty).
import { spawn } from 'node:child_process';
import path from 'node:path';

const vitest = path.join(import.meta.dirname, '..', 'node_modules', '.bin', 'vitest');
const args = process.argv.slice(2);
const lanes = ['media', 'light'].map(
  (lane) =>
    new Promise((resolve) => {
      const child = spawn(vitest, ['run', '--project', lane, ...(args.length ? ['--passWithNoTests', ...args] : [])], {
        stdio: 'inherit',
      });
      child.on('exit', (code, signal) => resolve({ lane, code: code ?? 1, signal }));
      child.on('error', (error) => resolve({ lane, code: 1, signal: error.message }));
    }),
);
const results = await Promise.all(lanes);
for (const r of results) console.log(`[test] ${r.lane}: ${r.code === 0 ? 'passed' : `failed (${r.signal ?? `exit ${r.code}`})`}`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
