/** The layer export tables: wharf's export of the big RUN's tree against `tar | gzip`, in MB/s of uncompressed tar (higher is better). */
import type { ExportRun } from './layer-export.js';
import { fmt, ratioText, record, textTable, type Measurements } from './report.js';
import { median, megabytesPerSecond } from './stats.js';

/** Who exports: wharf's layer writer, or one gzip process at a level. */
export type ExportSeries = 'wharf' | 'gzip-6' | 'gzip-1';

/** The series in the order they are measured and shown, with their labels in the text and Markdown tables. */
export const EXPORT_SERIES: readonly { key: ExportSeries; label: string; markdown: string }[] = [
  { key: 'wharf', label: 'wharf overlayDiff + writeLayer (gzip -6 on every core, 2 digests)', markdown: 'Wharf `overlayDiff` + `writeLayer` (gzip -6 on every core, both digests)' },
  { key: 'gzip-6', label: 'tar | gzip -6 (one core)', markdown: '`tar \\| gzip -6` (one core)' },
  { key: 'gzip-1', label: 'tar | gzip -1 (one core)', markdown: '`tar \\| gzip -1` (one core)' },
];

export type ExportMeasurements = Measurements<ExportSeries>;

/** Keeps one export's figures. */
export function recordExport(measurements: ExportMeasurements, series: ExportSeries, run: ExportRun): void {
  record(measurements, 'mbps', series, megabytesPerSecond(run.tarBytes, run.seconds * 1000));
  record(measurements, 'seconds', series, run.seconds);
  record(measurements, 'cpu', series, run.cpuSeconds);
  record(measurements, 'output', series, run.outputBytes);
}

function value(measurements: ExportMeasurements, key: string, series: ExportSeries): number {
  return median(measurements.get(key)?.get(series) ?? []);
}

/** Wharf's throughput over gzip -6's: above 1, wharf turns a tree into a layer faster than `tar | gzip` does. */
export function exportRatio(measurements: ExportMeasurements): number {
  return value(measurements, 'mbps', 'wharf') / value(measurements, 'mbps', 'gzip-6');
}

/** Medians per series: MB/s, seconds, CPU seconds, compressed MB, and wharf's throughput over each. */
function rows(measurements: ExportMeasurements, label: (series: (typeof EXPORT_SERIES)[number]) => string): string[][] {
  const wharf = value(measurements, 'mbps', 'wharf');
  return EXPORT_SERIES.map((series) => [
    label(series),
    fmt(value(measurements, 'mbps', series.key), 1),
    fmt(value(measurements, 'seconds', series.key), 2),
    fmt(value(measurements, 'cpu', series.key), 2),
    fmt(value(measurements, 'output', series.key) / 1e6, 1),
    series.key === 'wharf' ? '' : ratioText(wharf / value(measurements, 'mbps', series.key)),
  ]);
}

const HEADER = ['MB/s of tar', 'seconds', 'CPU s', 'compressed MB', 'wharf / this (MB/s)'];

/** The console table. */
export function exportTable(measurements: ExportMeasurements): string {
  return textTable(['layer export, median', ...HEADER], rows(measurements, (series) => series.label));
}

/** The same figures as a Markdown table for the README. */
export function exportMarkdownTable(measurements: ExportMeasurements): string {
  const lines = ['| Layer export (median) | MB/s of tar | Seconds | CPU s | Compressed MB | Wharf / this |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  for (const cells of rows(measurements, (series) => series.markdown)) lines.push(`| ${cells.map((cell) => cell || '—').join(' | ')} |`);
  return lines.join('\n');
}
