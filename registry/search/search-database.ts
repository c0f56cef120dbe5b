import Database from 'better-sqlite3';
import { pageOf, type Page, type PageRequest } from '../pagination.js';
import { allowAll, type RepositoryFilter } from '../pull-access.js';
import { QUERY_INDEXES, SCHEMA, SCHEMA_VERSION } from './search-schema.js';
import { searchStatement, type SearchQuery } from './search-statement.js';

/** The index path that keeps an index in memory, spelled as the storage setting spells memory. */
export const IN_MEMORY = 'memory://';

/** The label Docker Hub's description comes from, in `docker search` and the search API. */
const DESCRIPTION_LABEL = 'org.opencontainers.image.description';

// Labels whose words a search also finds (ranked with the description).
const SEARCHED_LABELS = ['title', 'vendor', 'source', 'url', 'authors', 'licenses', 'documentation'].map((l) => `org.opencontainers.image.${l}`);

/** How many of a repository's most recently pushed tags a search result shows (the summary shows all). */
const RESULT_TAGS = 5;

/** What the index keeps of one manifest of a repository. */
export interface ManifestRecord {
  readonly digest: string;
  readonly mediaType: string;
  readonly artifactType: string;
  readonly size: number;
  /** When it was last put into the repository, in ms since the epoch. */
  readonly pushedAt: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly platforms: readonly string[];
}

/**
 * What storage says now about some of a repository's manifests and tags (undefined: gone), or,
 * when `complete`, about all of them.
 */
export interface RepositoryPatch {
  readonly name: string;
  readonly complete: boolean;
  readonly manifests: ReadonlyMap<string, ManifestRecord | undefined>;
  readonly tags: ReadonlyMap<string, string | undefined>;
}

/** A tag as search results show it. */
export interface TagResult {
  readonly name: string;
  readonly digest: string;
  readonly size: number;
  readonly pushedAt: string;
}

/** A repository as search results show it. */
export interface RepositoryResult {
  readonly name: string;
  readonly description: string;
  /** The latest manifest (tagged ones first): its digest, size, push time and labels. */
  readonly digest: string;
  readonly size: number;
  readonly pushedAt: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly platforms: readonly string[];
  readonly artifactTypes: readonly string[];
  readonly tagCount: number;
  /** The most recently pushed tags, newest first. */
  readonly tags: readonly TagResult[];
}

/** A manifest as a repository summary shows it: what the index keeps of it, and the tags naming it. */
export interface ManifestResult extends Omit<ManifestRecord, 'pushedAt'> {
  readonly pushedAt: string;
  readonly tags: readonly string[];
}

/** One repository in full: every tag (sorted by name, not only the recent ones) and every manifest. */
export interface RepositorySummary extends RepositoryResult {
  readonly manifests: readonly ManifestResult[];
}

/** One page of search results and how many there are in all. */
export interface SearchResults {
  readonly total: number;
  readonly results: readonly RepositoryResult[];
}

interface RepositoryRow {
  id: number;
  name: string;
  digest: string;
  size: number;
  description: string;
  labels: string;
  pushed_at: number;
  tag_count: number;
  platforms: string;
  artifact_types: string;
  recent_tags: string;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  artifact_type: string;
  size: number;
  pushed_at: number;
  labels: string;
  platforms: string;
}

/** The search index's SQLite database: its writes (patches from storage) and its queries. */
export class SearchDatabase {
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(private readonly db: Database.Database, readonly path: string) {}

  /**
   * Opens (creating when absent) the index at `path`, or in memory for IN_MEMORY. `exclusive`
   * holds SQLite's lock for as long as it is open, so a second process cannot rebuild it underneath;
   * `bulk` trades durability for speed while a rebuild fills a new file.
   */
  static open(path: string, { exclusive = false, bulk = false } = {}): SearchDatabase {
    const db = new Database(path === IN_MEMORY ? ':memory:' : path);
    try {
      if (exclusive) {
        db.pragma('locking_mode = EXCLUSIVE');
        // The lock is taken by the first write, not by opening: take it now, or fail with SQLITE_BUSY.
        db.exec('BEGIN EXCLUSIVE; COMMIT');
      }
      db.pragma(bulk ? 'journal_mode = OFF' : 'journal_mode = WAL');
      db.pragma(bulk ? 'synchronous = OFF' : 'synchronous = NORMAL');
      // A 100k-repository index is a few hundred MiB: searches read it mapped rather than copied into a cache.
      db.pragma('cache_size = -65536');
      if (!bulk) db.pragma('mmap_size = 4294967296');
      const fresh = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'meta'").get() as { n: number };
      if (fresh.n === 0) {
        db.exec(SCHEMA);
        if (!bulk) db.exec(QUERY_INDEXES);
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
      }
      return new SearchDatabase(db, path);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  close(): void {
    this.db.close();
  }

  /** Ends a bulk fill: creates the query indexes and merges the full-text index into one segment. */
  finishBulk(): void {
    this.db.exec(QUERY_INDEXES);
    this.db.exec("INSERT INTO repository_text (repository_text) VALUES ('optimize')");
  }

  /** A value of the meta table (schema_version, generation, synced_at). */
  meta(key: string): string | undefined {
    return (this.statement('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.statement('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /** Whether the repository has the manifest in the index. */
  hasManifest(name: string, digest: string): boolean {
    return this.statement('SELECT 1 FROM manifests m JOIN repositories r ON r.id = m.repository_id WHERE r.name = ? AND m.digest = ?').get(name, digest) !== undefined;
  }

  /**
   * Makes the index say what storage said in each patch, and recomputes each repository's row from
   * its manifests and tags; all in one transaction (a rebuild applies hundreds at once).
   */
  apply(...patches: readonly RepositoryPatch[]): void {
    this.transaction(() => {
      for (const patch of patches) this.applyOne(patch);
    });
  }

  private applyOne(patch: RepositoryPatch): void {
    let id = this.repositoryId(patch.name);
    const fresh = id === undefined;
    if (id === undefined) {
      if (![...patch.manifests.values()].some((record) => record !== undefined)) return;
      id = Number(
        this.statement(
          `INSERT INTO repositories (name, name_words, digest, size, description, labels, pushed_at, tag_count, platforms, artifact_types, recent_tags)
           VALUES (?, ?, '', 0, '', '{}', 0, 0, '[]', '[]', '[]')`,
        ).run(patch.name, nameWords(patch.name)).lastInsertRowid,
      );
    }
    if (patch.complete && !fresh) {
      this.statement('DELETE FROM manifests WHERE repository_id = ?').run(id);
      this.statement('DELETE FROM tags WHERE repository_id = ?').run(id);
    }
    for (const [digest, record] of patch.manifests) {
      if (record !== undefined) this.putManifest(id, record);
      else if (!fresh) this.statement('DELETE FROM manifests WHERE repository_id = ? AND digest = ?').run(id, digest);
    }
    // One statement for all the tags: a rebuild writes a million.
    const tagged = [...patch.tags].filter((entry): entry is [string, string] => entry[1] !== undefined);
    this.statement('INSERT OR REPLACE INTO tags (repository_id, tag, digest) SELECT ?, key, value FROM json_each(?)').run(id, JSON.stringify(Object.fromEntries(tagged)));
    if (!fresh) {
      for (const [tag, digest] of patch.tags) if (digest === undefined) this.statement('DELETE FROM tags WHERE repository_id = ? AND tag = ?').run(id, tag);
    }
    // A tag can only name a manifest the repository holds (storage deletes a manifest's tags with it).
    const held = (digest: string) => patch.manifests.get(digest) !== undefined;
    if (!fresh || !tagged.every(([, digest]) => held(digest))) {
      this.statement('DELETE FROM tags WHERE repository_id = ? AND digest NOT IN (SELECT digest FROM manifests WHERE repository_id = ?)').run(id, id);
    }
    this.summarize(id, patch.name, fresh);
  }

  /** One page of repository names, sorted, with only those `canPull` allows. */
  catalog(request: PageRequest, canPull: RepositoryFilter = allowAll): Page {
    const after = request.last ?? '';
    if (canPull === allowAll) {
      const limit = request.n === undefined ? -1 : request.n + 1;
      const names = this.statement('SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?').pluck().all(after, limit) as string[];
      return pageOf(names, request.n);
    }
    const names: string[] = [];
    for (const name of this.statement('SELECT name FROM repositories WHERE name > ? ORDER BY name').pluck().iterate(after) as Iterable<string>) {
      if (!canPull(name)) continue;
      names.push(name);
      if (request.n !== undefined && names.length > request.n) break;
    }
    return pageOf(names, request.n);
  }

  /** One page of a repository's tags, sorted; undefined when the index has no such repository. */
  tags(name: string, request: PageRequest): Page | undefined {
    const id = this.repositoryId(name);
    if (id === undefined) return undefined;
    const limit = request.n === undefined ? -1 : request.n + 1;
    const tags = this.statement('SELECT tag FROM tags WHERE repository_id = ? AND tag > ? ORDER BY tag LIMIT ?').pluck().all(id, request.last ?? '', limit) as string[];
    return pageOf(tags, request.n);
  }

  /** One page of the repositories a query finds, among those `canPull` allows. */
  search(query: SearchQuery, canPull: RepositoryFilter = allowAll): SearchResults {
    const { sql, pageSql, countSql, params } = searchStatement(query);
    const offset = (query.page - 1) * query.pageSize;
    let page: { id: number; name: string }[];
    let total: number;
    if (canPull === allowAll) {
      const rows = this.statement(pageSql).all({ ...params, limit: query.pageSize, offset }) as { id: number; name: string; total: number }[];
      page = rows;
      total = rows[0]?.total ?? (this.statement(countSql).pluck().get(params) as number);
    } else {
      // Auth decides per name, outside SQL: walk every match in order, counting the allowed ones.
      page = [];
      total = 0;
      for (const row of this.statement(sql).iterate(params) as Iterable<{ id: number; name: string }>) {
        if (!canPull(row.name)) continue;
        if (total >= offset && page.length < query.pageSize) page.push(row);
        total++;
      }
    }
    return { total, results: this.results(page.map((row) => row.id)) };
  }

  /** A repository in full, or undefined when the index has none of that name. */
  repository(name: string): RepositorySummary | undefined {
    const row = this.statement('SELECT * FROM repositories WHERE name = ?').get(name) as RepositoryRow | undefined;
    if (row === undefined) return undefined;
    const tags = this.tagResults(row.id, 't.tag');
    const tagsOf = new Map<string, string[]>();
    for (const tag of tags) tagsOf.set(tag.digest, [...(tagsOf.get(tag.digest) ?? []), tag.name]);
    const manifests = this.statement('SELECT * FROM manifests WHERE repository_id = ? ORDER BY pushed_at DESC, digest').all(row.id) as ManifestRow[];
    return {
      ...resultOf(row),
      tags,
      manifests: manifests.map((m) => ({
        digest: m.digest,
        mediaType: m.media_type,
        artifactType: m.artifact_type,
        size: m.size,
        pushedAt: isoTime(m.pushed_at),
        labels: JSON.parse(m.labels) as Record<string, string>,
        platforms: JSON.parse(m.platforms) as string[],
        tags: tagsOf.get(m.digest) ?? [],
      })),
    };
  }

  /** How many repositories, manifests and tags the index holds. */
  counts(): { repositories: number; manifests: number; tags: number } {
    const count = (table: string) => this.statement(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return { repositories: count('repositories'), manifests: count('manifests'), tags: count('tags') };
  }

  /** The repositories with these ids as results, in the same order. */
  private results(ids: readonly number[]): RepositoryResult[] {
    const rows = this.statement('SELECT * FROM repositories WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids)) as RepositoryRow[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => resultOf(byId.get(id)!));
  }

  /** The repository's tags (at most `limit`; -1 for all) in this order, with the size and push time of the manifests they name. */
  private tagResults(id: number, order: 't.tag' | 'm.pushed_at DESC, t.tag', limit = -1): TagResult[] {
    const rows = this.statement(
      `SELECT t.tag AS name, t.digest, m.size, m.pushed_at FROM tags t JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.digest
       WHERE t.repository_id = ? ORDER BY ${order} LIMIT ?`,
    ).all(id, limit) as { name: string; digest: string; size: number; pushed_at: number }[];
    return rows.map((tag) => ({ name: tag.name, digest: tag.digest, size: tag.size, pushedAt: isoTime(tag.pushed_at) }));
  }

  private repositoryId(name: string): number | undefined {
    return this.statement('SELECT id FROM repositories WHERE name = ?').pluck().get(name) as number | undefined;
  }

  private putManifest(id: number, record: ManifestRecord): void {
    this.statement(
      `INSERT OR REPLACE INTO manifests (repository_id, digest, media_type, artifact_type, size, pushed_at, description, labels, platforms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      record.digest,
      record.mediaType,
      record.artifactType,
      record.size,
      record.pushedAt,
      record.labels[DESCRIPTION_LABEL] ?? '',
      JSON.stringify(record.labels),
      JSON.stringify(record.platforms),
    );
  }

  /**
   * Recomputes a repository's row, filter tables and text from its manifests and tags; a repository
   * left without manifests is removed, as it leaves the storage's catalog.
   */
  private summarize(id: number, name: string, fresh: boolean): void {
    if (!fresh) {
      for (const table of ['repository_labels', 'repository_platforms', 'repository_artifact_types']) {
        this.statement(`DELETE FROM ${table} WHERE repository_id = ?`).run(id);
      }
      this.statement('DELETE FROM repository_text WHERE rowid = ?').run(id);
    }
    const latest = this.statement(
      `SELECT m.digest, m.size, m.labels, (SELECT max(pushed_at) FROM manifests WHERE repository_id = m.repository_id) AS newest,
              (SELECT d.description FROM manifests d WHERE d.repository_id = m.repository_id AND d.description != ''
               ORDER BY EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = d.repository_id AND t.digest = d.digest) DESC, d.pushed_at DESC, d.digest
               LIMIT 1) AS shown_description
       FROM manifests m WHERE m.repository_id = ?
       ORDER BY EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest) DESC, m.pushed_at DESC, m.digest
       LIMIT 1`,
    ).get(id) as { digest: string; size: number; labels: string; newest: number; shown_description: string | null } | undefined;
    if (latest === undefined) {
      this.statement('DELETE FROM repositories WHERE id = ?').run(id);
      return;
    }
    const description = latest.shown_description ?? '';
    this.statement(
      'INSERT OR IGNORE INTO repository_labels (repository_id, key, value) SELECT ?, j.key, j.value FROM manifests m, json_each(m.labels) j WHERE m.repository_id = ?',
    ).run(id, id);
    this.statement(
      'INSERT OR IGNORE INTO repository_platforms (repository_id, platform) SELECT ?, j.value FROM manifests m, json_each(m.platforms) j WHERE m.repository_id = ?',
    ).run(id, id);
    this.statement(
      "INSERT OR IGNORE INTO repository_artifact_types (repository_id, artifact_type) SELECT ?, artifact_type FROM manifests WHERE repository_id = ? AND artifact_type != ''",
    ).run(id, id);
    const recent = this.tagResults(id, 'm.pushed_at DESC, t.tag', RESULT_TAGS);
    this.statement(
      `UPDATE repositories SET digest = @digest, size = @size, description = @description, labels = @labels, pushed_at = @pushedAt,
         recent_tags = @recentTags,
         tag_count = (SELECT count(*) FROM tags WHERE repository_id = @id),
         platforms = (SELECT json_group_array(platform) FROM (SELECT platform FROM repository_platforms WHERE repository_id = @id ORDER BY platform)),
         artifact_types = (SELECT json_group_array(artifact_type) FROM
           (SELECT artifact_type FROM repository_artifact_types WHERE repository_id = @id ORDER BY artifact_type))
       WHERE id = @id`,
    ).run({ id, digest: latest.digest, size: latest.size, description, labels: latest.labels, pushedAt: latest.newest, recentTags: JSON.stringify(recent) });
    const labels = JSON.parse(latest.labels) as Record<string, string>;
    const labelText = SEARCHED_LABELS.map((key) => labels[key]).filter((value) => value !== undefined).join(' ');
    this.statement('INSERT INTO repository_text (rowid, name, description, labels) VALUES (?, ?, ?, ?)').run(id, name, description, labelText);
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      // Search statements vary with the filters given; a bounded cache keeps the common shapes prepared.
      if (this.statements.size >= 256) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** ' tools busybox' for `tools/busybox`: the name's words after spaces, as the relevance ranking matches them. */
function nameWords(name: string): string {
  return ` ${name.split(/[^a-z0-9]+/).filter(Boolean).join(' ')}`;
}

function resultOf(row: RepositoryRow): RepositoryResult {
  return {
    name: row.name,
    description: row.description,
    digest: row.digest,
    size: row.size,
    pushedAt: isoTime(row.pushed_at),
    labels: JSON.parse(row.labels) as Record<string, string>,
    platforms: JSON.parse(row.platforms) as string[],
    artifactTypes: JSON.parse(row.artifact_types) as string[],
    tagCount: row.tag_count,
    tags: JSON.parse(row.recent_tags) as TagResult[],
  };
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
