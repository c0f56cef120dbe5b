import { splitDigest, type Digest } from '../../shared/digest.js';

/**
 * Where each thing lives inside a storage driver. Blobs are stored once, globally, by digest;
 * a repository holds links to the blobs and manifests it may serve, as distribution does, so
 * one layer shared by many repositories takes its space once.
 */
export const StoragePaths = {
  blobData(digest: Digest): string {
    const [algorithm, hex] = splitDigest(digest);
    return `/blobs/${algorithm}/${hex.slice(0, 2)}/${hex}/data`;
  },
  repositoriesRoot: '/repositories',
  repository(name: string): string {
    return `/repositories/${name}`;
  },
  layer(name: string, digest: Digest): string {
    const [algorithm, hex] = splitDigest(digest);
    return `/repositories/${name}/_layers/${algorithm}/${hex}`;
  },
  layerLink(name: string, digest: Digest): string {
    return `${StoragePaths.layer(name, digest)}/link`;
  },
  revision(name: string, digest: Digest): string {
    const [algorithm, hex] = splitDigest(digest);
    return `/repositories/${name}/_manifests/revisions/${algorithm}/${hex}`;
  },
  revisionsRoot(name: string): string {
    return `/repositories/${name}/_manifests/revisions`;
  },
  revisionLink(name: string, digest: Digest): string {
    return `${StoragePaths.revision(name, digest)}/link`;
  },
  tagsRoot(name: string): string {
    return `/repositories/${name}/_manifests/tags`;
  },
  tag(name: string, tag: string): string {
    return `/repositories/${name}/_manifests/tags/${tag}`;
  },
  tagLink(name: string, tag: string): string {
    return `/repositories/${name}/_manifests/tags/${tag}/current/link`;
  },
  referrers(name: string, subject: Digest): string {
    const [algorithm, hex] = splitDigest(subject);
    return `/repositories/${name}/_referrers/${algorithm}/${hex}`;
  },
  referrer(name: string, subject: Digest, referrer: Digest): string {
    const [algorithm, hex] = splitDigest(referrer);
    return `${StoragePaths.referrers(name, subject)}/${algorithm}/${hex}`;
  },
  referrerLink(name: string, subject: Digest, referrer: Digest): string {
    return `${StoragePaths.referrer(name, subject, referrer)}/link`;
  },
  uploadsRoot(name: string): string {
    return `/repositories/${name}/_uploads`;
  },
  uploadData(name: string, id: string): string {
    return `/repositories/${name}/_uploads/${id}/data`;
  },
  uploadStartedAt(name: string, id: string): string {
    return `/repositories/${name}/_uploads/${id}/startedat`;
  },
  upload(name: string, id: string): string {
    return `/repositories/${name}/_uploads/${id}`;
  },
  /** The storage generation the search index was built from; a tool that changes storage behind the registry's back replaces it. */
  searchGeneration: '/_search/generation',
  /** The change journal: one small object per manifest or tag write, so other instances update their search index. */
  searchChangesRoot: '/_search/changes',
  searchChange(id: string): string {
    return `/_search/changes/${id}`;
  },
  /** Per instance, the newest change it has pruned from the journal: an index synced before that may have missed some. */
  searchPrunedRoot: '/_search/pruned',
  searchPruned(instance: string): string {
    return `/_search/pruned/${instance}`;
  },
};
