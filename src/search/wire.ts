import type { SearchResult } from './search.ts';

// The one JSON shape of a search result, for the search_notes tool and `notes-mcp search
// --json` alike (snake_case, as the MCP tool contract spells it).

export interface WireHit {
  uri: string;
  path: string;
  title: string;
  headings: string[];
  start_line: number;
  end_line: number;
  snippet: string;
  score: number;
  indexed_at: string;
  stale: boolean;
}

export interface WireSearch {
  query: string;
  results: WireHit[];
  has_more: boolean;
  next_offset?: number;
  indexing: boolean;
}

export function toWire(r: SearchResult, indexing: boolean): WireSearch {
  const out: WireSearch = {
    query: r.query,
    results: r.hits.map((h) => ({
      uri: h.uri,
      path: h.path,
      title: h.title,
      headings: h.headings,
      start_line: h.startLine,
      end_line: h.endLine,
      snippet: h.snippet,
      score: h.score,
      indexed_at: h.indexedAt,
      stale: h.stale,
    })),
    has_more: r.hasMore,
    indexing,
  };
  if (r.nextOffset !== undefined) out.next_offset = r.nextOffset;
  return out;
}
