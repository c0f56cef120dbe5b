/** The build benchmark's tables: wall times per scenario and builder, and wharf/BuildKit ratios (lower is better). */
import { fmt, ratioText, textTable, type Measurements } from './report.js';
import { median } from './stats.js';

/** A measured series: a builder, or BuildKit's build followed by `docker save` (the two times added). */
export type BuildSeries = 'buildkit' | 'buildkit-save' | 'wharf' | 'wharf-archive';

export type BuildMeasurements = Measurements<BuildSeries>;

export interface Scenario {
  key: 'cold' | 'warm' | 'change';
  label: string;
}

/** Every scenario a builder benchmark can measure; each benchmark picks its own. */
export const SCENARIOS: readonly Scenario[] = [
  { key: 'cold', label: 'Cold build (empty cache)' },
  { key: 'warm', label: 'Rebuild, no change' },
  { key: 'change', label: 'Rebuild, 1 small file changed' },
];

/** The goal of the issue: wharf takes at most as long as BuildKit. */
export const GOAL = 1.0;

/** The pairings reported, numerator over denominator. */
interface Pairing {
  wharf: BuildSeries;
  buildkit: BuildSeries;
  header: string;
  /** Like for like, so held to the goal: an image in the builder's store, or a loadable archive on both sides. */
  goal: boolean;
}

const PAIRINGS: readonly Pairing[] = [
  { wharf: 'wharf', buildkit: 'buildkit', header: 'wharf / BuildKit', goal: true },
  { wharf: 'wharf-archive', buildkit: 'buildkit-save', header: 'wharf+archive / BuildKit+save', goal: true },
  // For information: wharf writes a whole archive where BuildKit leaves the image in the engine.
  { wharf: 'wharf-archive', buildkit: 'buildkit', header: 'wharf+archive / BuildKit', goal: false },
];

function seconds(measurements: BuildMeasurements, key: string, series: BuildSeries): number {
  return median(measurements.get(key)?.get(series) ?? []);
}

function ratio(measurements: BuildMeasurements, key: string, pairing: Pairing): number {
  return seconds(measurements, key, pairing.wharf) / seconds(measurements, key, pairing.buildkit);
}

function status(ratios: readonly number[]): string {
  const known = ratios.filter((r, i) => PAIRINGS[i]!.goal && Number.isFinite(r));
  if (known.length === 0) return 'n/a';
  return known.every((r) => r <= GOAL) ? 'met' : 'NOT MET';
}

/** One row per scenario: its label, medians of wall seconds and every ratio, and the goal's status over the like-for-like ratios. */
function scenarioRows(measurements: BuildMeasurements, scenarios: readonly Scenario[], goalText: (status: string) => string): string[][] {
  return scenarios.map((scenario) => {
    const ratios = PAIRINGS.map((pairing) => ratio(measurements, scenario.key, pairing));
    return [
      scenario.label,
      fmt(seconds(measurements, scenario.key, 'buildkit'), 2),
      fmt(seconds(measurements, scenario.key, 'wharf'), 2),
      ratioText(ratios[0]!),
      fmt(seconds(measurements, scenario.key, 'buildkit-save'), 2),
      fmt(seconds(measurements, scenario.key, 'wharf-archive'), 2),
      ratioText(ratios[1]!),
      ratioText(ratios[2]!),
      goalText(status(ratios)),
    ];
  });
}

/** Medians of wall seconds and every ratio, one row per scenario; the goal column covers the like-for-like ratios. */
export function buildSummaryTable(measurements: BuildMeasurements, scenarios: readonly Scenario[]): string {
  const body = scenarioRows(measurements, scenarios, (state) => `≤ ${GOAL.toFixed(1)}x ${state}`);
  const header = ['wall seconds, median', 'BuildKit', 'wharf', PAIRINGS[0]!.header, 'BuildKit+save', 'wharf+archive', PAIRINGS[1]!.header, PAIRINGS[2]!.header, 'goal'];
  return textTable(header, body);
}

/** CPU seconds (user+sys) per scenario: wharf's process tree, the engine's dockerd (shared with other clients) and the docker client. */
export function buildCpuTable(measurements: BuildMeasurements, scenarios: readonly Scenario[]): string {
  const body = scenarios.map((scenario) => [
    scenario.label,
    fmt(seconds(measurements, `${scenario.key}.cpu`, 'buildkit'), 2),
    fmt(seconds(measurements, `${scenario.key}.cpu`, 'wharf'), 2),
    fmt(seconds(measurements, `${scenario.key}.cpu`, 'wharf-archive'), 2),
  ]);
  return textTable(['CPU seconds, median', 'BuildKit (dockerd + client)', 'wharf', 'wharf+archive'], body);
}

export function buildMarkdownTable(measurements: BuildMeasurements, scenarios: readonly Scenario[]): string {
  const lines = [
    '| Scenario (wall time, s) | BuildKit | Wharf | Wharf / BuildKit | BuildKit + `docker save` | Wharf + docker archive | Wharf + archive / BuildKit + save | Wharf + archive / BuildKit (information) | Goal |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const cells of scenarioRows(measurements, scenarios, (state) => `≤ ${GOAL.toFixed(1)}x (${state})`)) lines.push(`| ${cells.join(' | ')} |`);
  return lines.join('\n');
}

/** Whether every like-for-like ratio with data on both sides is within the goal. */
export function buildGoalsMet(measurements: BuildMeasurements, scenarios: readonly Scenario[]): boolean {
  return scenarios.every((scenario) => PAIRINGS.every((pairing) => !pairing.goal || !(ratio(measurements, scenario.key, pairing) > GOAL)));
}
