import crypto from 'node:crypto';
import fs from 'node:fs';
import { FACES_DIR, PEOPLE } from './helpers/faces.ts';

/** Marks every process the suite starts (the test forks pass their environment on to their children). */
const MARK = `HEARING_TEST_RUN=${crypto.randomUUID()}`;

/** Processes still carrying this run's mark, other than this one: pid and command line. */
function marked(): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(MARK)) continue;
      found.push({ pid, command: fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim().slice(0, 200) });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * The suite needs shared/fixtures beside the project (the identity tests compare real faces): without
 * it the whole run fails here, loudly, instead of any test being skipped or passing on nothing.
 * At the end, any process a test started and left running (a server, a browser, an encoder) is named and
 * killed: left behind, it would take CPU from the rest of a run, or hold the output open after it.
 */
export default function setup(): () => Promise<void> {
  const missing = PEOPLE.flatMap((p) => [1, 2, 3, 4, 5].map((i) => `${p}${i}.png`)).filter((f) => !fs.existsSync(`${FACES_DIR}/${f}`));
  if (missing.length) {
    throw new Error(`test fixtures missing in ${FACES_DIR}: ${missing.join(', ')} (the suite runs with shared/ beside the project)`);
  }
  const [name, value] = MARK.split('=') as [string, string];
  process.env[name] = value;
  return async () => {
    // Processes on their way out (a media worker told to close a moment ago) are given 3 s.
    const left = () => marked().filter((p) => !/\bvitest\b|tinypool/.test(p.command));
    for (let i = 0; i < 15 && left().length; i++) await new Promise((r) => setTimeout(r, 200));
    const stayed = left();
    if (!stayed.length) return;
    console.error(`[suite] ${stayed.length} process(es) left running by the tests, killed now:`);
    for (const p of stayed) {
      console.error(`  ${p.pid} ${p.command}`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Ended meanwhile.
      }
    }
  };
}
