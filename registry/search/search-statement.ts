/** What a search asks for, checked (see search-query.ts). */
export interface SearchQuery {
  /** The query as typed, lower-cased and trimmed; empty lists every repository. */
  readonly text: string;
  /** Its words (letters and digits); each must start a word of the name, description or labels. */
  readonly words: readonly string[];
  /** `key` alone asks for the label with any value. */
  readonly labels: readonly { readonly key: string; readonly value?: string }[];
  readonly tags: readonly string[];
  readonly artifactTypes: readonly string[];
  readonly platforms: readonly string[];
  readonly sort: 'relevance' | 'pushed';
  readonly page: number;
  readonly pageSize: number;
}

/**
 * The SQL of a search, without LIMIT: every filter narrows `repositories` by id (SQLite drives the
 * query from the most selective), and relevance ranks an exact name first, then a name (or a name
 * component) the query starts, then names with every query word, then the rest (description and
 * labels); ties go by name.
 */
export function searchStatement(query: SearchQuery): { sql: string; countSql: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const where: string[] = [];
  if (query.words.length > 0) {
    // Words are letters and digits only (search-query.ts), so quoting them makes them plain prefix terms.
    params.fts = query.words.map((word) => `"${word}"*`).join(' ');
    where.push('r.id IN (SELECT rowid FROM repository_text WHERE repository_text MATCH @fts)');
  }
  query.labels.forEach(({ key, value }, i) => {
    params[`labelKey${i}`] = key;
    if (value !== undefined) params[`labelValue${i}`] = value;
    const valueTest = value === undefined ? '' : ` AND value = @labelValue${i}`;
    where.push(`r.id IN (SELECT repository_id FROM repository_labels WHERE key = @labelKey${i}${valueTest})`);
  });
  query.tags.forEach((tag, i) => {
    params[`tag${i}`] = tag;
    where.push(`r.id IN (SELECT repository_id FROM tags WHERE tag = @tag${i})`);
  });
  query.artifactTypes.forEach((type, i) => {
    params[`artifactType${i}`] = type;
    where.push(`r.id IN (SELECT repository_id FROM repository_artifact_types WHERE artifact_type = @artifactType${i})`);
  });
  query.platforms.forEach((platform, i) => {
    params[`platform${i}`] = platform;
    where.push(`r.id IN (SELECT repository_id FROM repository_platforms WHERE platform = @platform${i})`);
  });
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;

  let order = 'r.name';
  if (query.sort === 'pushed') order = 'r.pushed_at DESC, r.name';
  else if (query.text !== '') {
    params.text = query.text;
    const words = query.words.map((word, i) => {
      params[`word${i}`] = word;
      return `instr(r.name_words, ' ' || @word${i}) > 0`;
    });
    const tier = [
      'CASE WHEN r.name = @text THEN 0',
      "WHEN substr(r.name, 1, length(@text)) = @text OR instr(r.name, '/' || @text) > 0 THEN 1",
      ...(words.length > 0 ? [`WHEN ${words.join(' AND ')} THEN 2`] : []),
      'ELSE 3 END',
    ].join(' ');
    order = `${tier}, r.name`;
  }
  return {
    sql: `SELECT r.id, r.name, r.digest, r.size, r.description, r.labels, r.pushed_at FROM repositories r${filter} ORDER BY ${order}`,
    countSql: `SELECT count(*) FROM repositories r${filter}`,
    params,
  };
}
