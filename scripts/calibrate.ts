// npm run calibrate -- (--data-dir <the server's data dir> | --csv <distance,label file>) [--margin 0.05]
// The identity thresholds a court's own labelled pairs support: from its judges' and clerks' admit and
// refuse decisions (each with the distance of that participant's last check), or from a CSV of
// `distance,label` lines (label: same/admit/1 or different/refuse/0). Prints a Markdown report and the
// settings; exits 1 on bad input, 2 when the pairs cannot support a point (too few, or none either side).
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configFromEnv } from '../server/app/config.ts';
import { calibrate, calibrationReport, pairsFromCsv, pairsFromStore, type LabelledPair } from '../server/identity/calibrate.ts';
import { Store } from '../server/store/store.ts';

function main(): number {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, csv: { type: 'string' }, margin: { type: 'string', default: '0.05' } },
  });
  const margin = Number(values.margin);
  if (!Number.isFinite(margin) || margin < 0 || margin > 0.5) throw new Error(`--margin must be between 0 and 0.5, not "${values.margin}"`);
  if (!values['data-dir'] === !values.csv) throw new Error('give either --data-dir <dir> or --csv <file>');
  let pairs: LabelledPair[];
  if (values.csv) {
    if (!fs.existsSync(values.csv)) throw new Error(`no such file: ${values.csv}`);
    pairs = pairsFromCsv(fs.readFileSync(values.csv, 'utf8'));
  } else {
    const dir = values['data-dir']!;
    if (!fs.existsSync(path.join(dir, 'hearings.sqlite'))) throw new Error(`no hearing store in ${dir} (hearings.sqlite)`);
    const store = new Store(dir);
    try {
      pairs = pairsFromStore(store);
    } finally {
      store.close();
    }
  }
  const { accept, reject } = configFromEnv(process.env).identity;
  const c = calibrate(pairs, { accept, reject }, margin);
  console.log(calibrationReport(c));
  return c.recommended && c.enough ? 0 : 2;
}

try {
  process.exitCode = main();
} catch (error) {
  console.error(`calibrate: ${(error as Error).message}`);
  process.exitCode = 1;
}
