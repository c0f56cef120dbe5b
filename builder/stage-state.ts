import type { Digest } from '../shared/digest.js';
import type { Layer } from '../shared/image.js';
import type { ContainerConfig, HistoryEntry, ImageConfig } from '../shared/image-config.js';
import type { Platform } from '../shared/oci.js';
import type { KeyedStep } from './cache/build-cache.js';
import type { EnvLookup } from './frontend/index.js';

/** Docker's PATH for Linux images whose base sets none, as BuildKit adds it. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A stage while its instructions are dispatched: the image config taking shape, the layers and
 * history so far, the ARGs in scope, and the cache key of everything up to here.
 */
export class StageState {
  readonly config: Mutable<ContainerConfig>;
  readonly layers: Layer[];
  readonly history: HistoryEntry[];
  /** ARGs declared in this stage, with the values they took. */
  readonly args = new Map<string, string>();
  /** The cache key of the stage so far: its base and every instruction dispatched. */
  key: Digest;
  /** The steps that made this stage, a parent stage's first: what `--cache-to` exports. */
  readonly steps: KeyedStep[];
  /** MAINTAINER's value: the config's `author`. */
  author?: string;

  constructor(
    readonly name: string,
    readonly platform: Platform,
    base: ImageConfig | undefined,
    baseLayers: readonly Layer[],
    baseKey: Digest,
    baseSteps: readonly KeyedStep[] = [],
  ) {
    this.config = { ...(base?.config ?? {}) };
    // The base image's triggers run in this build (see dispatchFrom); the new image starts without them.
    delete this.config.OnBuild;
    if (!this.config.Env?.some((entry) => entry.startsWith('PATH='))) this.config.Env = [...(this.config.Env ?? []), DEFAULT_PATH];
    this.layers = [...baseLayers];
    this.history = [...(base?.history ?? [])];
    this.key = baseKey;
    this.steps = [...baseSteps];
    // The base's author stays unless MAINTAINER sets another, as in Docker.
    this.author = base?.author;
  }

  /** The value of an ENV variable, or undefined. */
  env(name: string): string | undefined {
    const prefix = `${name}=`;
    return this.config.Env?.find((entry) => entry.startsWith(prefix))?.slice(prefix.length);
  }

  /** Sets an ENV variable, replacing an earlier value in place as Docker does. */
  setEnv(name: string, value: string): void {
    const entries = [...(this.config.Env ?? [])];
    const at = entries.findIndex((entry) => entry.startsWith(`${name}=`));
    if (at >= 0) entries[at] = `${name}=${value}`;
    else entries.push(`${name}=${value}`);
    this.config.Env = entries;
  }

  /** Variable lookup for expansion: ENV wins over ARG of the same name, as in Docker. */
  lookup(): EnvLookup {
    return (name: string) => this.env(name) ?? this.args.get(name);
  }

  /** WORKDIR, absolute ('/' when unset). */
  workdir(): string {
    return this.config.WorkingDir || '/';
  }

  /** The image config the stage ends with. */
  imageConfig(): ImageConfig {
    const created = this.history.at(-1)?.created;
    return {
      ...(created ? { created } : {}),
      ...(this.author ? { author: this.author } : {}),
      architecture: this.platform.architecture,
      os: this.platform.os,
      ...(this.platform.variant ? { variant: this.platform.variant } : {}),
      config: { ...this.config },
      rootfs: { type: 'layers', diff_ids: this.layers.map((layer) => layer.diffId) },
      history: this.history,
    };
  }
}
