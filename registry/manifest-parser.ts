import { DigestParseError, parseDigest } from '../shared/digest.js';
import { isIndexMediaType, isManifestMediaType, MediaType, type ManifestMediaType } from '../shared/media-types.js';
import type { Descriptor } from '../shared/oci.js';
import { RegistryError } from './errors.js';

/** What the registry needs to know of a manifest to store, serve and index it. */
export interface ParsedManifest {
  readonly mediaType: ManifestMediaType;
  /** Blobs an image manifest needs (config and layers); empty for an index. */
  readonly blobs: readonly Descriptor[];
  /** Manifests an index lists; empty for an image manifest. */
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  /** The artifactType the referrers API reports: the manifest's own, else its config's media type. */
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Parses and validates manifest bytes pushed with `contentType`; throws MANIFEST_INVALID. */
export function parseManifest(content: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(content.toString('utf8'));
  } catch (error) {
    throw invalid(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw invalid('manifest must be a JSON object');
  const mediaType = resolveMediaType(json, contentType);
  if (json.schemaVersion !== 2) throw invalid('manifest schemaVersion must be 2');

  const subject = json.subject === undefined ? undefined : descriptor(json.subject, 'subject');
  const annotations = stringMap(json.annotations, 'annotations');
  const ownArtifactType = optionalString(json.artifactType, 'artifactType');
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) throw invalid('an index needs a "manifests" array');
    const manifests = json.manifests.map((entry, i) => descriptor(entry, `manifests[${i}]`));
    return { mediaType, blobs: [], manifests, subject, artifactType: ownArtifactType, annotations };
  }
  const config = descriptor(json.config, 'config');
  if (!Array.isArray(json.layers)) throw invalid('an image manifest needs a "layers" array');
  const layers = json.layers.map((entry, i) => descriptor(entry, `layers[${i}]`));
  // Foreign layers (with urls) live outside the registry; Docker's Windows base layers are the usual case.
  const blobs = [config, ...layers.filter((layer) => !layer.urls?.length)];
  return { mediaType, blobs, manifests: [], subject, artifactType: ownArtifactType ?? config.mediaType, annotations };
}

/** The media type of stored manifest bytes: the `mediaType` field, else the OCI type its shape implies. */
export function sniffMediaType(content: Buffer): ManifestMediaType {
  const json = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
  if (typeof json.mediaType === 'string' && isManifestMediaType(json.mediaType)) return json.mediaType;
  return Array.isArray(json.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
}

function resolveMediaType(json: Record<string, unknown>, contentType: string | undefined): ManifestMediaType {
  const header = contentType?.split(';')[0]!.trim();
  const field = json.mediaType;
  if (field !== undefined && typeof field !== 'string') throw invalid('mediaType must be a string');
  if (field !== undefined && header && header !== field && header !== 'application/json') {
    throw invalid(`Content-Type ${header} does not match the manifest's mediaType ${field}`);
  }
  const mediaType = field ?? (header === 'application/json' ? undefined : header);
  if (mediaType === undefined) {
    // An OCI manifest may omit mediaType; its shape says which it is.
    if (Array.isArray(json.manifests)) return MediaType.OciIndex;
    if (isObject(json.config)) return MediaType.OciManifest;
    throw invalid('manifest media type is missing');
  }
  if (!isManifestMediaType(mediaType)) throw invalid(`unsupported manifest media type "${mediaType}"`);
  return mediaType;
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  if (typeof value.mediaType !== 'string' || value.mediaType === '') throw invalid(`${where}.mediaType must be a string`);
  if (typeof value.digest !== 'string') throw invalid(`${where}.digest must be a string`);
  if (!Number.isSafeInteger(value.size) || (value.size as number) < 0) throw invalid(`${where}.size must be a non-negative integer`);
  try {
    parseDigest(value.digest);
  } catch (error) {
    if (error instanceof DigestParseError) throw invalid(`${where}.digest: ${error.message}`);
    throw error;
  }
  if (value.urls !== undefined && !(Array.isArray(value.urls) && value.urls.every((u) => typeof u === 'string'))) {
    throw invalid(`${where}.urls must be an array of strings`);
  }
  stringMap(value.annotations, `${where}.annotations`);
  optionalString(value.artifactType, `${where}.artifactType`);
  return value as unknown as Descriptor;
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalid(`${where} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw invalid(`${where} must be a string`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message);
}
