/** Turning per-round measurements into the console table and a README-ready markdown table. */
import type { ServerName } from './config.js';
import { median } from './stats.js';

export interface Metric {
  key: string;
  label: string;
  unit: string;
  higherIsBetter: boolean;
  digits: number;
  /** Minimum wharf-vs-distribution ratio the project aims for; metrics without one are diagnostics. */
  goal?: number;
}

/** metric key → server (or builder) → one value per round */
export type Measurements<Name extends string = ServerName> = Map<string, Map<Name, number[]>>;

export function record<Name extends string>(measurements: Measurements<Name>, key: string, server: Name, value: number): void {
  let byServer = measurements.get(key);
  if (!byServer) measurements.set(key, (byServer = new Map()));
  let values = byServer.get(server);
  if (!values) byServer.set(server, (values = []));
  values.push(value);
}

interface Row {
  metric: Metric;
  wharf: number;
  distribution: number;
  /** > 1 means wharf is better, whichever direction the metric runs. */
  ratio: number;
}

function rows(metrics: readonly Metric[], measurements: Measurements): Row[] {
  return metrics.map((metric) => {
    const byServer = measurements.get(metric.key);
    const wharf = median(byServer?.get('wharf') ?? []);
    const distribution = median(byServer?.get('distribution') ?? []);
    const ratio = metric.higherIsBetter ? wharf / distribution : distribution / wharf;
    return { metric, wharf, distribution, ratio };
  });
}

/** A number with fixed digits and thousands separators; n/a when not finite. */
export function fmt(value: number, digits: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `1.23x`, or n/a. */
export function ratioText(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a';
}

function goalText(row: Row): string {
  if (row.metric.goal === undefined) return '';
  return `≥ ${row.metric.goal.toFixed(1)}x`;
}

function statusText(row: Row): string {
  if (row.metric.goal === undefined) return '';
  if (!Number.isFinite(row.ratio)) return 'n/a';
  return row.ratio >= row.metric.goal ? 'met' : 'NOT MET';
}

function label(metric: Metric): string {
  return `${metric.label} (${metric.unit}, ${metric.higherIsBetter ? 'higher' : 'lower'} is better)`;
}

/** Plain-text table with right-aligned numeric columns. */
export function textTable(header: string[], body: string[][], leftAligned = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i < leftAligned ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** A markdown table: the first column left-aligned, the others right-aligned. */
export function markdownGrid(header: string[], body: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...body.map(line)].join('\n');
}

export function summaryTable(metrics: readonly Metric[], measurements: Measurements): string {
  const body = rows(metrics, measurements).map((row) => [
    label(row.metric),
    fmt(row.wharf, row.metric.digits),
    fmt(row.distribution, row.metric.digits),
    ratioText(row.ratio),
    goalText(row),
    statusText(row),
  ]);
  return textTable(['metric (median of rounds)', 'wharf', 'distribution', 'ratio', 'goal', 'status'], body);
}

export function markdownTable(metrics: readonly Metric[], measurements: Measurements): string {
  const lines = [
    '| Metric | Wharf | distribution 2.8 | Wharf / distribution | Goal |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows(metrics, measurements)) {
    const goal = row.metric.goal === undefined ? '—' : `${goalText(row)} (${statusText(row)})`;
    lines.push(
      `| ${row.metric.label} (${row.metric.unit}) | ${fmt(row.wharf, row.metric.digits)} | ${fmt(row.distribution, row.metric.digits)} | ${ratioText(row.ratio)} | ${goal} |`,
    );
  }
  return lines.join('\n');
}

/** Whether every goal with data on both sides was met. */
export function goalsMet(metrics: readonly Metric[], measurements: Measurements): boolean {
  return rows(metrics, measurements).every((row) => row.metric.goal === undefined || !(row.ratio < row.metric.goal));
}
