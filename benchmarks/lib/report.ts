import fs from 'node:fs';
import path from 'node:path';
import type { ScenarioOutcome } from './scenario.ts';

export interface ReportFiles {
  json: string;
  markdown: string;
  svg: string;
}

const escapeXml = (s: string): string =>
  s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);

/** A horizontal bar chart as a standalone SVG. */
export function barChartSvg(chart: ScenarioOutcome['chart']): string {
  const width = 640;
  const rowHeight = 36;
  const left = 120;
  const top = 40;
  const max = Math.max(...chart.bars.map((b) => b.value), 1e-9);
  const height = top + chart.bars.length * rowHeight + 20;
  const bars = chart.bars
    .map((b, i) => {
      const y = top + i * rowHeight;
      const w = Math.max(1, ((width - left - 90) * b.value) / max);
      return (
        `<text x="${left - 8}" y="${y + 20}" text-anchor="end">${escapeXml(b.label)}</text>` +
        `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="24" fill="${i === chart.bars.length - 1 ? '#2e7d32' : '#78909c'}"/>` +
        `<text x="${(left + w + 6).toFixed(1)}" y="${y + 20}">${b.value}</text>`
      );
    })
    .join('\n  ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="14">
  <rect width="100%" height="100%" fill="white"/>
  <text x="10" y="24" font-weight="bold">${escapeXml(chart.title)}</text>
  ${bars}
</svg>
`;
}

export function markdownReport(
  scenario: string,
  outcome: ScenarioOutcome,
  meta: { date: string; machine: Record<string, unknown> },
  svgName: string,
): string {
  const header = `| ${outcome.table.columns.join(' | ')} |\n|${outcome.table.columns.map(() => '---').join('|')}|`;
  const rows = outcome.table.rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
  const targets = outcome.targets.map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.ok ? 'met' : '**missed**'} |`).join('\n');
  return `# Benchmark: ${scenario}

${meta.date} on ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB, Node ${meta.machine.node}, kernel ${meta.machine.kernel}.

${header}
${rows}

| target | measured | wanted | |
|---|---|---|---|
${targets}

![${outcome.chart.title}](${svgName})

Summary: \`${JSON.stringify(outcome.summary)}\`
`;
}

/** Writes `<scenario>-<date>.json`, `.md` and `.svg` into `dir`. */
export function writeReport(
  dir: string,
  scenario: string,
  outcome: ScenarioOutcome,
  machine: Record<string, unknown>,
  now = new Date(),
): ReportFiles {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const base = path.join(dir, `${scenario}-${stamp}`);
  const files = { json: `${base}.json`, markdown: `${base}.md`, svg: `${base}.svg` };
  const meta = { scenario, date: now.toISOString(), machine };
  fs.writeFileSync(
    files.json,
    JSON.stringify({ ...meta, summary: outcome.summary, targets: outcome.targets, samples: outcome.samples }, null, 2),
  );
  fs.writeFileSync(files.svg, barChartSvg(outcome.chart));
  fs.writeFileSync(files.markdown, markdownReport(scenario, outcome, meta, path.basename(files.svg)));
  return files;
}

/** A one-line progress bar on stderr (plain lines when stderr is not a terminal). */
export function progressBar(scenario: string): (fraction: number, label: string) => void {
  let lastPrinted = -1;
  return (fraction, label) => {
    const pct = Math.round(fraction * 100);
    const bar = `${'#'.repeat(Math.round(fraction * 30)).padEnd(30, '-')}`;
    const line = `[${bar}] ${String(pct).padStart(3)}% ${scenario}: ${label}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line.padEnd(100)}${fraction >= 1 ? '\n' : ''}`);
    else if (pct >= lastPrinted + 10 || fraction >= 1) {
      lastPrinted = pct;
      process.stderr.write(`${line}\n`);
    }
  };
}
