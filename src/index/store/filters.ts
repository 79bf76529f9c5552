// Which notes a search or listing may return, as SQL over the notes table (alias n).

export interface Filter {
  /** Folder (path prefix) the note must be under, '' or undefined for all. */
  folder?: string | undefined;
  /** Every listed tag must be on the note. */
  tags?: readonly string[] | undefined;
  /** Note file modified at or after this time (ms since epoch). */
  modifiedAfter?: number | undefined;
  modifiedBefore?: number | undefined;
}

/** SQL range for "path is under folder": folder/ <= path < folder0 ('0' follows '/'). */
export function folderRange(folder: string): [string, string] | null {
  const f = folder.replace(/^\/+|\/+$/g, '');
  if (f === '') return null;
  return [`${f}/`, `${f}0`];
}

export interface FilterSql {
  where: string;
  params: unknown[];
}

export function filterSql(filter: Filter | undefined, alias = 'n'): FilterSql {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (!filter) return { where: '1', params };
  const range = filter.folder ? folderRange(filter.folder) : null;
  if (range) {
    parts.push(`${alias}.path >= ? AND ${alias}.path < ?`);
    params.push(range[0], range[1]);
  }
  for (const tag of filter.tags ?? []) {
    parts.push(`EXISTS (SELECT 1 FROM note_tags t WHERE t.note_id = ${alias}.id AND t.tag = ?)`);
    params.push(tag.replace(/^#/, '').toLowerCase());
  }
  if (filter.modifiedAfter !== undefined) {
    parts.push(`${alias}.mtime_ms >= ?`);
    params.push(filter.modifiedAfter);
  }
  if (filter.modifiedBefore !== undefined) {
    parts.push(`${alias}.mtime_ms < ?`);
    params.push(filter.modifiedBefore);
  }
  return { where: parts.length ? parts.join(' AND ') : '1', params };
}

export function isEmptyFilter(filter: Filter | undefined): boolean {
  return filterSql(filter).params.length === 0;
}
