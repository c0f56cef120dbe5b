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
 * The SQL of a search: every match (ids and names, in order), one page of them with their count,
 * and the count alone (for a page past the end). The first of the text match and the filters drives the query
 * (a set of repository ids); the others are probed per candidate on their primary keys. Relevance
 * ranks an exact name first, then names (or name components) the query starts, then names holding
 * every query word, then the rest (description and labels); ties go by name.
 */
export function searchStatement(query: SearchQuery): { sql: string; pageSql: string; countSql: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const sets: { readonly ids: string; readonly probe: string }[] = [];
  if (query.words.length > 0) {
    // Words are letters and digits only (search-query.ts), so quoting them makes them plain prefix terms.
    params.fts = query.words.map((word) => `"${word}"*`).join(' ');
    sets.push({ ids: 'SELECT rowid FROM repository_text WHERE repository_text MATCH @fts', probe: 'repository_text MATCH @fts' });
  }
  // A filter is a test on the rows of a table keyed by repository: as the set of ids it passes, or probed for one candidate.
  const addFilter = (table: string, test: string) =>
    sets.push({ ids: `SELECT repository_id FROM ${table} WHERE ${test}`, probe: `EXISTS (SELECT 1 FROM ${table} WHERE repository_id = r.id AND ${test})` });
  const equals = (values: readonly string[], table: string, column: string) =>
    values.forEach((value, i) => {
      params[`${column}${i}`] = value;
      addFilter(table, `${column} = @${column}${i}`);
    });
  query.labels.forEach(({ key, value }, i) => {
    params[`labelKey${i}`] = key;
    if (value !== undefined) params[`labelValue${i}`] = value;
    addFilter('repository_labels', `key = @labelKey${i}${value === undefined ? '' : ` AND value = @labelValue${i}`}`);
  });
  equals(query.tags, 'tags', 'tag');
  equals(query.artifactTypes, 'repository_artifact_types', 'artifact_type');
  equals(query.platforms, 'repository_platforms', 'platform');
  // The text match joins the full-text table (rowid = repository id); a first filter without one drives by id.
  const where = sets.map((set, i) => (i === 0 && query.words.length === 0 ? `r.id IN (${set.ids})` : set.probe));
  const filter = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;

  let order = 'r.name';
  if (query.sort === 'pushed') order = 'r.pushed_at DESC, r.name';
  else if (query.text !== '') {
    // Concatenated here rather than in SQL, where it would be done again for every candidate.
    params.text = query.text;
    params.componentStart = `/${query.text}`;
    const words = query.words.map((word, i) => {
      params[`wordStart${i}`] = ` ${word}`;
      return `instr(r.name_words, @wordStart${i}) > 0`;
    });
    const tier = [
      'CASE WHEN r.name = @text THEN 0',
      'WHEN substr(r.name, 1, length(@text)) = @text OR instr(r.name, @componentStart) > 0 THEN 1',
      ...(words.length > 0 ? [`WHEN ${words.join(' AND ')} THEN 2`] : []),
      'ELSE 3 END',
    ].join(' ');
    order = `${tier}, r.name`;
  }
  // Only ids and names go through the sort (the page's rows are read afterwards), from an index that
  // holds just what ranking reads. Without a set of candidates, the name or push time index gives the order.
  const ranked = 'repositories r INDEXED BY repositories_ranking';
  const from =
    query.words.length > 0 ? `FROM repository_text JOIN ${ranked} ON r.id = repository_text.rowid${filter}` : sets.length > 0 ? `FROM ${ranked}${filter}` : 'FROM repositories r';
  // The total: the full-text matches alone are counted without repository rows (each is one); filtered
  // candidates are counted while they are ranked, which spares a second pass over the probes.
  const textOnly = sets.length === 1 && query.words.length > 0;
  const countSql = textOnly ? `SELECT count(*) FROM (${sets[0]!.ids})` : `SELECT count(*) ${from}`;
  const total = sets.length === 0 || textOnly ? `(${countSql})` : 'count(*) OVER ()';
  return {
    sql: `SELECT r.id, r.name ${from} ORDER BY ${order}`,
    pageSql: `SELECT r.id, r.name, ${total} AS total ${from} ORDER BY ${order} LIMIT @limit OFFSET @offset`,
    countSql,
    params,
  };
}
