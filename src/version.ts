// Kept equal to package.json's version by tests/version.test.ts; a constant avoids reading
// package.json on every CLI start.
export const VERSION = '0.1.0';

/** MCP protocol revisions this server speaks, newest first (reported by /health and doctor). */
export const PROTOCOL_REVISIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'] as const;

/**
 * The oldest Node that runs notes-mcp: better-sqlite3's prebuilt addon needs Node-API 10
 * (22.14); on 22.12-22.13 the first SQLite call crashed the process. package.json's engines
 * says the same (tests/package checks it); the launcher and doctor check it.
 */
export const MIN_NODE = '22.14.0';

/** True when `version` (e.g. process.versions.node) is at least MIN_NODE. */
export function nodeIsRecentEnough(version: string): boolean {
  const have = version.split('.').map(Number);
  const need = MIN_NODE.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}
