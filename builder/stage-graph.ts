/** What the stage graph needs of a stage: its position, its name, and the stages or images it names. */
export interface StageNode {
  readonly index: number;
  readonly name?: string;
  /** The FROM image and every `--from` value, already expanded: a stage name, a stage index, or an image. */
  readonly references: readonly string[];
}

/** A build that names a stage wrongly or loops; the builder prints it with the Dockerfile line. */
export class StageGraphError extends Error {}

/**
 * The stages a build of `target` (a name, or the last stage) needs, each after the stages it
 * depends on. A reference is a stage when it is a stage's name or an earlier stage's index;
 * anything else is an image. Stages nobody needs are left out, so they are never built.
 */
export function stagesToBuild<T extends StageNode>(stages: readonly T[], target: string | undefined): T[] {
  if (stages.length === 0) throw new StageGraphError('the Dockerfile has no FROM instruction');
  const stageOf = stageResolver(stages);
  const last = stages[stages.length - 1]!;
  const root = target === undefined ? last : stages.find((stage) => stage.name === target.toLowerCase());
  if (!root) throw new StageGraphError(`target stage "${target}" could not be found`);

  const ordered: T[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (stage: T, path: readonly string[]): void => {
    const label = stage.name ?? String(stage.index);
    if (state.get(stage.index) === 'done') return;
    if (state.get(stage.index) === 'visiting') throw new StageGraphError(`stages depend on each other in a cycle: ${[...path, label].join(' -> ')}`);
    state.set(stage.index, 'visiting');
    for (const reference of stage.references) {
      const dependency = stageOf(reference, stage);
      if (dependency) visit(dependency, [...path, label]);
    }
    state.set(stage.index, 'done');
    ordered.push(stage);
  };
  visit(root, []);
  return ordered;
}

/** Resolves a `FROM`/`--from` value, as seen from stage `from`, to the stage it names; undefined when it names an image. */
export type StageResolver<T extends StageNode> = (reference: string, from: T) => T | undefined;

/** The resolver for one Dockerfile's stages (the name table is built once). */
export function stageResolver<T extends StageNode>(stages: readonly T[]): StageResolver<T> {
  const byName = new Map(stages.filter((s) => s.name !== undefined).map((s) => [s.name!, s]));
  return (reference, from) => {
    // Names may point forward, as in BuildKit (the walk catches cycles); indexes only backward.
    // A stage's own name is an image: `FROM golang AS golang` builds on the golang image.
    const named = byName.get(reference.toLowerCase());
    if (named && named !== from) return named;
    if (/^\d+$/.test(reference)) {
      const index = Number(reference);
      if (index >= from.index) throw new StageGraphError(`stage ${from.name ?? from.index} refers to stage ${index}, which is not defined before it`);
      return stages[index];
    }
    return undefined;
  };
}
