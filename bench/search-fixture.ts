/**
 * A large registry written straight into the filesystem storage layout (registry/storage/paths.ts),
 * without the HTTP API: many repositories and tags over a small shared set of images, so that
 * 100k repositories and 1M tags take seconds to write and little space.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MediaType } from '../shared/media-types.js';

/** What the fixture holds, for building queries against it. */
export interface SearchFixture {
  readonly repositories: readonly string[];
  readonly tags: number;
  /** Words names are made of. */
  readonly nameWords: readonly string[];
  /** Words descriptions are made of. */
  readonly descriptionWords: readonly string[];
  readonly vendors: readonly string[];
}

// Shared images: few enough to write in a moment, enough for descriptions as varied as a real registry's.
const IMAGES = 1000;
const ORGANISATIONS = 1000;
const DESCRIPTION_WORDS = 6;

/** Writes `repositories` repositories holding `tags` tags in all into the storage directory `root`. */
export function writeSearchFixture(root: string, repositories: number, tags: number): SearchFixture {
  const nameWords = words(400, 1);
  const descriptionWords = words(1500, 2);
  const vendors = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'tyrell'];
  const images = Array.from({ length: IMAGES }, (_, i) => writeImage(root, i, descriptionWords, vendors));

  const names = new Set<string>();
  const random = seeded(42);
  while (names.size < repositories) {
    const organisation = `${nameWords[Math.floor(random() * nameWords.length)]}${Math.floor(random() * ORGANISATIONS)}`;
    const base = `${nameWords[Math.floor(random() * nameWords.length)]}-${nameWords[Math.floor(random() * nameWords.length)]}`;
    names.add(random() < 0.1 ? base : `${organisation}/${base}`);
  }
  const repositoryNames = [...names].sort();
  const perRepository = tags / repositories;
  let written = 0;
  repositoryNames.forEach((name, i) => {
    // Tag counts vary around the average (half the repositories have fewer, half more) and add up to `tags`.
    const spread = Math.floor(perRepository / 2);
    const target = Math.round((tags * (i + 1)) / repositories) - Math.round((tags * i) / repositories);
    const count = i === repositories - 1 ? tags - written : Math.max(1, target + (i % 2 === 0 ? -spread : spread));
    const held = [images[i % IMAGES]!, ...(i % 2 === 0 ? [images[(i * 7 + 3) % IMAGES]!] : [])];
    writeRepository(root, name, held, count);
    written += count;
  });
  return { repositories: repositoryNames, tags: written, nameWords, descriptionWords, vendors };
}

interface WrittenImage {
  readonly manifest: string;
}

/** One shared image: config with labels, one layer, and its manifest, as blobs. */
function writeImage(root: string, index: number, descriptionWords: readonly string[], vendors: readonly string[]): WrittenImage {
  const description = Array.from({ length: DESCRIPTION_WORDS }, (_, i) => descriptionWords[(index * 13 + i * 41) % descriptionWords.length]).join(' ');
  const config = blob(
    root,
    JSON.stringify({
      architecture: index % 4 === 0 ? 'arm64' : 'amd64',
      os: 'linux',
      config: {
        Labels: {
          'org.opencontainers.image.description': `An image to ${description}`,
          'org.opencontainers.image.title': `image ${index}`,
          'org.opencontainers.image.vendor': vendors[index % vendors.length]!,
          'org.opencontainers.image.source': `https://example.com/${vendors[index % vendors.length]}/image-${index}`,
        },
      },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const layer = blob(root, `layer ${index}\n`.repeat(64));
  const manifest = blob(
    root,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.OciLayerGzip, digest: layer.digest, size: layer.size }],
    }),
  );
  return { manifest: manifest.digest };
}

function writeRepository(root: string, name: string, images: readonly WrittenImage[], tags: number): void {
  const manifests = join(root, 'repositories', name, '_manifests');
  for (const image of images) {
    const revision = join(manifests, 'revisions', 'sha256', image.manifest.slice('sha256:'.length));
    mkdirSync(revision, { recursive: true });
    writeFileSync(join(revision, 'link'), image.manifest);
  }
  mkdirSync(join(manifests, 'tags'), { recursive: true });
  for (let i = 0; i < tags; i++) {
    const tag = i === 0 ? 'latest' : `v${Math.floor(i / 10)}.${i % 10}.0`;
    const current = join(manifests, 'tags', tag, 'current');
    mkdirSync(current, { recursive: true });
    writeFileSync(join(current, 'link'), images[i % images.length]!.manifest);
  }
}

function blob(root: string, text: string): { digest: string; size: number } {
  const content = Buffer.from(text);
  const hex = createHash('sha256').update(content).digest('hex');
  const folder = join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'data'), content);
  return { digest: `sha256:${hex}`, size: content.length };
}

/** `count` distinct pronounceable words; `salt` keeps two lists apart. */
function words(count: number, salt: number): string[] {
  const consonants = 'bcdfghklmnprstvz';
  const vowels = 'aeiou';
  const random = seeded(salt);
  const out = new Set<string>();
  while (out.size < count) {
    let word = '';
    for (let syllable = 0; syllable < 2 + Math.floor(random() * 2); syllable++) {
      word += consonants[Math.floor(random() * consonants.length)]! + vowels[Math.floor(random() * vowels.length)]!;
    }
    out.add(word);
  }
  return [...out];
}

/** A small deterministic generator (mulberry32), so every run builds the same registry. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
