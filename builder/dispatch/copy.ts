import { rm } from 'node:fs/promises';
import { makeScratchDirectory } from '../build-root.js';
import { cachedStep, stepLayer, storeStepLayer, type BuildSession } from '../build-session.js';
import { cacheKey } from '../cache/cache-key.js';
import { resolveAddSources } from '../context/add-source.js';
import type { ResolvedSource } from '../context/build-context.js';
import { hashCopySources, selectionStamp } from '../context/content-hash.js';
import { planCopy, resolveChown, rootfsLookup, type CopyPlanOptions } from '../context/copy-plan.js';
import type { AddInstruction, CopyInstruction, InlineFile } from '../frontend/index.js';
import type { StageState } from '../stage-state.js';

/**
 * COPY and ADD: select the sources (context, another stage, an image, a URL, heredocs), key the
 * step by their content, and on a cache miss write the planned entries as a layer.
 */
export async function dispatchCopy(session: BuildSession, state: StageState, instruction: CopyInstruction | AddInstruction): Promise<boolean> {
  const tree = instruction.kind === 'COPY' && instruction.from ? await session.sourceRootfs(instruction.from) : session.context;
  const scratchDir = await makeScratchDirectory(session.options.root, 'copy');
  try {
    const sources =
      instruction.kind === 'ADD'
        ? await resolveAddSources(tree, instruction.sources, { scratchDir, checksum: instruction.checksum })
        : await tree.resolveSources(instruction.sources, { instruction: 'COPY' });
    sources.push(...instruction.inlineFiles.map((file, i) => inlineSource(file, instruction.sources.length + i)));
    const plan: CopyPlanOptions = {
      sources,
      destination: instruction.destination,
      workdir: state.workdir(),
      chown: instruction.chown ? await resolveChown(instruction.chown, (path) => session.readFileOf(state, path)) : undefined,
      chmod: instruction.chmod ? parseChmod(instruction.chmod) : undefined,
      sourceDateEpoch: session.options.sourceDateEpoch,
      instruction: instruction.kind,
    };
    // Existing paths only change parent-directory metadata, which the parent key already decides.
    const hashContent = () => hashCopySources(planCopy({ ...plan, now: 0 }), { fileSha256Hex: (path) => session.contextDigests.sha256Hex(path) });
    const stamp = selectionStamp(plan);
    const content = stamp ? await session.contextDigests.selectionDigest(stamp, hashContent) : await hashContent();
    const createdBy = `${copyDescription(instruction)} # buildkit`;
    const from = instruction.kind === 'COPY' ? (instruction.from ?? null) : null;
    const key = cacheKey(state.key, instruction.kind, createdBy, from, content);
    const { step, cached } = await cachedStep(session, state, key, createdBy, async () => {
      const existing = state.layers.length > 0 ? rootfsLookup(await session.rootfsOf(state)) : undefined;
      return storeStepLayer(session, planCopy({ ...plan, existing }));
    });
    state.layers.push(stepLayer(session, step.layer!));
    return cached;
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** The instruction as BuildKit's history shows it after expansion: --chown and --chmod, never --from or --checksum. */
export function copyDescription(instruction: CopyInstruction | AddInstruction): string {
  const flags = [instruction.chown ? `--chown=${instruction.chown}` : '', instruction.chmod ? `--chmod=${instruction.chmod}` : ''].filter(Boolean);
  const sources = [...instruction.sources, ...instruction.inlineFiles.map((file) => `<<${file.name}`)];
  return [instruction.kind, ...flags, ...sources, instruction.destination].join(' ');
}

/** A heredoc source (`COPY <<EOF /etc/motd`) as a one-file source (expandInstruction already expanded its body). */
function inlineSource(file: InlineFile, group: number): ResolvedSource {
  const content = Buffer.from(file.content);
  return {
    pattern: `<<${file.name}`,
    path: file.name,
    name: file.name,
    kind: 'file',
    group,
    entries: [{ path: '', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: content.length, source: { content } }],
  };
}

function parseChmod(value: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) throw new Error(`invalid --chmod=${value}: only octal modes are supported`);
  return parseInt(value, 8);
}
