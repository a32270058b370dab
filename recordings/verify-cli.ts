// npm run verify -- <hearing record dir> [--public-key court-key.pem] [--expect-head <hash>] [--allow-unsigned] [--json]
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { RecordError, verifyRecord } from './verify.ts';

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'public-key': { type: 'string' },
        'expect-head': { type: 'string' },
        'allow-unsigned': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    console.error(`verify: ${(error as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    console.error(
      'usage: npm run verify -- <hearing record dir> [--public-key key.pem] [--expect-head <hash>] [--allow-unsigned] [--json]',
    );
    return 2;
  }
  try {
    const key = values['public-key'] ? createPublicKey(fs.readFileSync(values['public-key'])) : undefined;
    const report = verifyRecord(positionals[0]!, {
      publicKey: key,
      allowUnsigned: values['allow-unsigned'],
      expectHead: values['expect-head'],
    });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(
        `record ${report.dir}: ${report.lines} lines, ${report.segments} segments, ${report.events} events, head ${report.headHash}`,
      );
      console.log(report.signed ? `signed, key ${report.keyFingerprint}` : 'not signed');
      if (report.checkpoints) console.log(`${report.checkpoints} signed checkpoint(s) verified`);
      for (const w of report.warnings) console.log(`warning: ${w}`);
      for (const p of report.problems) console.log(`PROBLEM ${p.kind}: ${p.message}`);
      console.log(
        report.complete
          ? 'VERIFIED'
          : report.ok
            ? 'INCOMPLETE: consistent so far, not signed yet'
            : `NOT VERIFIED: ${report.problems.length} problem(s)`,
      );
    }
    // Exit 0 only for a whole signed record; an in-progress one accepted with --allow-unsigned exits 3.
    return report.complete ? 0 : report.ok ? 3 : 1;
  } catch (error) {
    console.error(`verify: ${error instanceof RecordError ? error.message : `cannot verify: ${(error as Error).message}`}`);
    return 2;
  }
}

process.exit(main(process.argv.slice(2)));
