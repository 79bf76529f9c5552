// Kept equal to package.json's version by tests/version.test.ts; a constant avoids reading
// package.json on every CLI start.
export const VERSION = '0.1.0';

/** MCP protocol revisions this server speaks, newest first (reported by /health and doctor). */
export const PROTOCOL_REVISIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26'] as const;
