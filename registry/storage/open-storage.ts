import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { MemoryDriver } from './memory.js';

/** The driver a `--storage` value names: a directory, `file:///dir`, or `memory://`. */
export function openStorage(spec: string): StorageDriver {
  if (spec === 'memory://') return new MemoryDriver();
  if (spec.startsWith('file://')) return new FilesystemDriver(fileURLToPath(spec));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) throw new ConfigError(`--storage: unsupported storage "${spec}" (use a directory, file:///dir or memory://)`);
  return new FilesystemDriver(spec);
}
