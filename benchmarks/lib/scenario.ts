/** What every benchmark scenario returns; the CLI turns it into JSON, markdown and an SVG chart. */
export interface ScenarioOutcome {
  summary: Record<string, unknown>;
  targets: { name: string; value: number; target: string; ok: boolean }[];
  samples: unknown;
  table: { columns: string[]; rows: (string | number)[][] };
  chart: { title: string; bars: { label: string; value: number }[] };
}

export type Progress = (fraction: number, label: string) => void;
