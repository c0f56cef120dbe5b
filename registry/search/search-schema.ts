/** Bumped whenever the tables below change: an index of another version is rebuilt from storage at start. */
export const SCHEMA_VERSION = 1;

/**
 * The search index's tables. Everything here is derived from storage: `manifests` and `tags` mirror
 * the repository's revisions and tag links, and the rest is recomputed from them per repository
 * (`SearchDatabase.apply`), so a rebuild and incremental updates give the same rows.
 */
export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- One row per repository holding at least one manifest: the catalog and the search results.
CREATE TABLE repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  -- ' tools busybox': the name's words, each after a space, so instr() finds a word's start.
  name_words TEXT NOT NULL,
  -- Of the latest manifest (tagged ones first, then by push time): its digest, size and description.
  digest TEXT NOT NULL,
  size INTEGER NOT NULL,
  description TEXT NOT NULL,
  labels TEXT NOT NULL,
  pushed_at INTEGER NOT NULL,
  -- Copied from the tables below, so that a search result is one row and its latest tags.
  tag_count INTEGER NOT NULL,
  platforms TEXT NOT NULL,
  artifact_types TEXT NOT NULL,
  -- The most recently pushed tags as search results show them (JSON).
  recent_tags TEXT NOT NULL
);

CREATE TABLE manifests (
  repository_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  artifact_type TEXT NOT NULL,
  -- The manifest's bytes plus everything it references (config and layers, or the listed manifests).
  size INTEGER NOT NULL,
  -- When the manifest was last put into the repository (the revision link's modification time), in ms.
  pushed_at INTEGER NOT NULL,
  description TEXT NOT NULL,
  labels TEXT NOT NULL,
  platforms TEXT NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;

CREATE TABLE tags (
  repository_id INTEGER NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (repository_id, tag)
) WITHOUT ROWID;

-- What the filters look up: every label, platform and artifact type of any manifest of a repository.
CREATE TABLE repository_labels (
  repository_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (repository_id, key, value)
) WITHOUT ROWID;
CREATE TABLE repository_platforms (
  repository_id INTEGER NOT NULL, platform TEXT NOT NULL,
  PRIMARY KEY (repository_id, platform)
) WITHOUT ROWID;
CREATE TABLE repository_artifact_types (
  repository_id INTEGER NOT NULL, artifact_type TEXT NOT NULL,
  PRIMARY KEY (repository_id, artifact_type)
) WITHOUT ROWID;

-- Full-text search over the name (unicode61 splits it at / - _ .), the description and a few more labels.
CREATE VIRTUAL TABLE repository_text USING fts5(name, description, labels, tokenize = 'unicode61');
`;

/** The indexes that only queries need: a rebuild creates them after filling the tables, which is faster than keeping them up to date. */
export const QUERY_INDEXES = `
CREATE INDEX repositories_by_push ON repositories (pushed_at DESC, name);
-- What ranking reads of each candidate, packed close together (a table row also holds labels and more).
CREATE INDEX repositories_ranking ON repositories (id, name, name_words, pushed_at);
CREATE INDEX tags_by_name ON tags (tag);
CREATE INDEX repository_labels_by_label ON repository_labels (key, value);
CREATE INDEX repository_platforms_by_platform ON repository_platforms (platform);
CREATE INDEX repository_artifact_types_by_type ON repository_artifact_types (artifact_type);
`;
