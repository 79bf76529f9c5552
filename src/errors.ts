// Every expected failure of notes-mcp is declared here once: a stable code, a message
// template, the HTTP status and JSON-RPC code it maps to, the CLI exit code, and what to do
// about it. tests/errors.test.ts checks that docs/errors.md lists every code with the same
// status, exit code and fix.

export interface ErrorSpec {
  readonly message: string;
  readonly status: number;
  readonly exit: number;
  /** JSON-RPC error code of an HTTP refusal carrying this error. */
  readonly rpc: number;
  /** What the user (or the agent) can do about it: docs/errors.md shows the same text. */
  readonly fix: string;
}

function spec(message: string, status: number, fix: string, o: { exit?: number; rpc?: number } = {}): ErrorSpec {
  return { message, status, exit: o.exit ?? 1, rpc: o.rpc ?? -32000, fix };
}

export const ERRORS = {
  NOTES_E_CONFIG: spec(
    'invalid configuration: %s',
    500,
    'Fix the named setting (flag, NOTES_MCP_* variable or config file key).',
    { exit: 2 },
  ),
  NOTES_E_USAGE: spec('%s', 400, 'Fix the command line or request as the message says.', { exit: 2, rpc: -32600 }),
  NOTES_E_MODEL_MISSING: spec(
    'model %s is not on this machine: run "notes-mcp model fetch" or set NOTES_MCP_MODEL=bundled',
    503,
    'Run `notes-mcp model fetch` once with network, or use the bundled model.',
  ),
  NOTES_E_MODEL_CHECKSUM: spec(
    'model file %s failed its checksum: expected %s, got %s',
    500,
    'The download is corrupt or tampered with: run `notes-mcp model fetch` again.',
  ),
  NOTES_E_MODEL_LOAD: spec(
    'model %s could not be loaded: %s',
    500,
    'Check `notes-mcp doctor`; re-fetch the model or use `bundled`.',
  ),
  NOTES_E_MODEL_FETCH: spec(
    'could not download model %s: %s',
    502,
    'Check the network or HF_ENDPOINT mirror, then retry.',
  ),
  NOTES_E_MODEL_UNKNOWN: spec(
    'unknown model %s: use "auto", "bundled" or a model listed by "notes-mcp model list"',
    400,
    'Use `auto`, `bundled` or an id from `notes-mcp model list`.',
    { exit: 2 },
  ),
  NOTES_E_STATE_LOCKED: spec(
    'state folder %s is already in use by pid %s',
    409,
    'Another notes-mcp (daemon or `index`) owns this state folder: stop it, or use another --state.',
  ),
  NOTES_E_STATE_CORRUPT: spec(
    'state file %s is unreadable: %s',
    500,
    'An unreadable index.db is moved aside and rebuilt by the daemon at its next start (or stop it and run `notes-mcp index`); tokens.json: restore it from backup (RUNBOOK.md) or recreate the tokens.',
  ),
  NOTES_E_STATE_UNWRITABLE: spec(
    'state folder %s cannot be written (%s)',
    500,
    "The daemon's user must own the state folder and may write it: `ls -ld` the folder named, then `chown -R` / `chmod -R u+rwX` it (provision.sh puts owners and modes back), or use another --state.",
    { exit: 2 },
  ),
  NOTES_E_NOT_INDEXED: spec(
    'the notes in %s are not indexed yet',
    409,
    'Run `notes-mcp index` (or start the daemon, which indexes at start), then retry.',
  ),
  NOTES_E_INDEX_MODEL_MISMATCH: spec(
    'the index was built with model %s but %s is configured: set the same model, or run "notes-mcp index" to re-embed',
    409,
    'Read-only commands need the model the index was built with.',
  ),
  NOTES_E_NOTES_MISSING: spec(
    'the notes folder %s does not exist',
    400,
    'Check the --notes path (or NOTES_MCP_NOTES); pass --create to make a new, empty notes folder there.',
    { exit: 2 },
  ),
  NOTES_E_NOTES_NOT_FOLDER: spec(
    'the notes folder %s is a file, not a folder',
    400,
    'Point --notes (or NOTES_MCP_NOTES) at the folder that holds your Markdown notes.',
    { exit: 2 },
  ),
  NOTES_E_PATH_INVALID: spec(
    'invalid note path %s: %s',
    400,
    'Use a relative path inside the notes folder ending in .md.',
  ),
  NOTES_E_PATH_OUTSIDE: spec(
    'note path %s resolves outside the notes folder',
    403,
    'The path (after symlinks) leaves the notes folder: refused.',
  ),
  NOTES_E_NOTE_NOT_FOUND: spec('note %s does not exist', 404, 'Check the path with list_notes or search_notes.'),
  NOTES_E_NOTE_EXISTS: spec(
    'note %s already exists: pass mode "overwrite" to replace it or "append" to add to it',
    409,
    'Choose mode append or overwrite explicitly.',
  ),
  NOTES_E_NOTE_CONFLICT: spec(
    'note %s changed since you read it (expected hash %s, current %s): read it again and retry',
    409,
    'Read the note again (read_note) and redo the change on the new text.',
  ),
  NOTES_E_NOTE_RACED: spec(
    'note %s kept changing on disk while notes-mcp was writing it (another program is saving it): nothing was changed',
    409,
    'Retry in a moment; an editor or sync tool was saving the note at the same time, and its text was kept.',
  ),
  NOTES_E_NOTE_TOO_LARGE: spec(
    'note %s is too large (%s bytes, limit %s)',
    413,
    'Split the content into several notes.',
  ),
  NOTES_E_NOTE_NOT_TEXT: spec(
    'note %s is not a text note: %s',
    415,
    'The file is binary or not UTF-8 text; notes-mcp reads and indexes only text notes.',
  ),
  NOTES_E_NOTE_NOT_UTF8: spec(
    'note %s is not all UTF-8 (first stray byte on line %s): an edit would change bytes it never touched, so nothing was changed',
    415,
    'Convert the note to UTF-8 (iconv -f latin1 -t utf-8), or replace it whole with write_note mode "overwrite"; write_note mode "append" keeps its bytes.',
  ),
  NOTES_E_WRITE_FAILED: spec(
    'could not write note %s: %s',
    507,
    'Fix what the message names (a read-only or full disk, file permissions), then retry.',
  ),
  NOTES_E_TARGET_EXISTS: spec(
    'a note already exists at %s: %s never overwrites one',
    409,
    'Choose another path, or move or delete the note that is there first.',
  ),
  NOTES_E_EDIT_MISMATCH: spec(
    'edit of %s not applied, nothing changed: operation %s (%s) %s',
    409,
    'Read the note again and make the operation match its text (the message says what was found, and where).',
  ),
  NOTES_E_NAME_AMBIGUOUS: spec(
    '%s names more than one note: %s',
    409,
    'Pass the path of the note you mean (one of the candidates listed).',
  ),
  NOTES_E_VERSION_NOT_FOUND: spec(
    'cannot restore %s: %s',
    404,
    'List the versions notes-mcp kept with note_history (or `notes-mcp history PATH`) and pick one.',
  ),
  NOTES_E_HISTORY_BUSY: spec(
    'the note history is busy (held by pid %s): nothing was changed; retry in a moment',
    503,
    'Retry; if it persists, another notes-mcp process is stuck holding <state>/history/…/lock: stop it.',
  ),
  NOTES_E_AUTH_MISSING: spec(
    'missing bearer token',
    401,
    'Send Authorization: Bearer <token> (see `notes-mcp token create`).',
  ),
  NOTES_E_AUTH_MALFORMED: spec(
    'the Authorization header must be "Bearer <token>"',
    401,
    'Send the header as `Authorization: Bearer <token>`: the word Bearer, one space, then the token.',
  ),
  NOTES_E_AUTH_INVALID: spec(
    'invalid or revoked bearer token',
    401,
    'The token is wrong or revoked: create a new one.',
  ),
  NOTES_E_TOKEN_STORE_UNREADABLE: spec(
    'the stored tokens cannot be read on the server, so this token cannot be checked now',
    503,
    'Not the client: tokens.json in the state folder is damaged (notes-mcp doctor names it); restore it or create tokens again. NOTES_MCP_TOKEN keeps working meanwhile.',
  ),
  NOTES_E_AUTH_SCOPE: spec('token scope %s does not allow %s', 403, 'Use a token created with --scope write.'),
  NOTES_E_TOKEN_NOT_FOUND: spec('no token with id %s', 404, 'See `notes-mcp token list`.'),
  NOTES_E_PORT_IN_USE: spec(
    'port %s on %s is in use by %s',
    409,
    'Stop what holds the port (`notes-mcp status` shows a running daemon), or choose another with --port / NOTES_MCP_PORT.',
  ),
  NOTES_E_HOST_DENIED: spec('host %s is not allowed', 403, 'Add the public host name to NOTES_MCP_ALLOWED_HOSTS.'),
  NOTES_E_ORIGIN_DENIED: spec(
    'origin %s is not allowed',
    403,
    'Add the web client origin to NOTES_MCP_ALLOWED_ORIGINS.',
  ),
  NOTES_E_RATE_LIMITED: spec(
    'too many requests: retry after %s seconds',
    429,
    'Slow down; raise rateLimitPerMinute in the config file if this is expected load.',
  ),
  NOTES_E_BODY_TOO_LARGE: spec(
    'request body is larger than %s bytes',
    413,
    'Send less per request; raise maxBodyBytes if needed.',
    { rpc: -32600 },
  ),
  NOTES_E_SHUTTING_DOWN: spec('server is shutting down', 503, 'Retry after the restart (Retry-After).'),
  NOTES_E_UPSTREAM_DOWN: spec(
    'the notes server behind the proxy is not answering (restarting or stopped)',
    502,
    'Retry in a few seconds (Retry-After); if it lasts, the operator runs `notes-mcp doctor` on the server (RUNBOOK.md).',
  ),
  NOTES_E_UPSTREAM_TIMEOUT: spec(
    'the notes server behind the proxy did not answer in time',
    504,
    'Retry; if it lasts, the operator runs `notes-mcp doctor` on the server (RUNBOOK.md).',
  ),
  NOTES_E_TIMEOUT: spec(
    '%s did not finish within %s ms',
    504,
    'Narrow the request (smaller k, a folder filter), or retry.',
  ),
  NOTES_E_SESSION_NOT_FOUND: spec(
    'session %s not found: start a new session',
    404,
    'Start a new MCP session (reconnect the client).',
    { rpc: -32001 },
  ),
  NOTES_E_TOO_MANY_SESSIONS: spec(
    'too many open sessions (%s): close one and retry',
    503,
    'Close idle clients, or raise maxSessions.',
  ),
  NOTES_E_HOST_MISSING: spec(
    'missing Host header',
    400,
    'Send a Host header (every HTTP/1.1 client does); check the proxy in front.',
    { rpc: -32600 },
  ),
  NOTES_E_JSON_INVALID: spec(
    'request body is not valid JSON: %s',
    400,
    'Send one JSON-RPC message as a JSON object (Content-Type: application/json).',
    { rpc: -32700 },
  ),
  NOTES_E_BATCH_UNSUPPORTED: spec(
    'JSON-RPC batches are not supported: send one message per request',
    400,
    'Send each JSON-RPC message in its own request (batches were removed in MCP 2025-06-18).',
    { rpc: -32600 },
  ),
  NOTES_E_SESSION_REQUIRED: spec(
    'Mcp-Session-Id header is required for %s',
    400,
    'Send the Mcp-Session-Id the initialize response gave, or start with initialize.',
    { rpc: -32600 },
  ),
  NOTES_E_ROUTE_NOT_FOUND: spec(
    'no endpoint %s: see /mcp, /health, /metrics',
    404,
    'Point the client at the /mcp URL the daemon printed at start.',
  ),
  NOTES_E_METHOD_NOT_ALLOWED: spec(
    '%s is not allowed on %s (allowed: %s)',
    405,
    'Use one of the methods the Allow header lists.',
  ),
  NOTES_E_TOO_MANY_STREAMS: spec(
    'too many open notification streams (%s): retry later',
    503,
    'Close idle subscriptions/listen streams, or raise maxSessions.',
  ),
  NOTES_E_TOKEN_SESSIONS: spec(
    'this token already holds %s sessions: close one and retry',
    429,
    'Close sessions this client no longer uses (or give each client its own token); raise maxSessionsPerToken if needed.',
  ),
  NOTES_E_TOKEN_STREAMS: spec(
    'this token already holds %s notification streams: close one and retry',
    429,
    'Close listen streams this client no longer reads (or give each client its own token); raise maxSessionsPerToken if needed.',
  ),
  NOTES_E_TOKEN_BUSY: spec(
    'this token already has %s requests running or replies not yet read: read those and retry',
    429,
    'Read the responses of earlier requests before sending more (or give each client its own token).',
  ),
  NOTES_E_RESOURCE_TOO_LARGE: spec(
    'note %s is larger than the %s bytes resources/read returns',
    413,
    'Read the note in pages with the read_note tool (start_line, then next_start_line).',
  ),
  NOTES_E_NODE_TOO_OLD: spec(
    'Node %s or newer is needed, this is Node %s',
    500,
    'Install a newer Node (Homebrew node@24 on a Mac), or put it first on PATH.',
  ),
  NOTES_E_INTERNAL: spec('internal error: %s', 500, 'A bug: the log has the stack trace; please report it.', {
    rpc: -32603,
  }),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

function format(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => String(args[i++] ?? ''));
}

export class NotesError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly exit: number;
  readonly rpc: number;
  readonly fix: string;

  constructor(code: ErrorCode, args: readonly unknown[] = [], options?: { cause?: unknown }) {
    const s = ERRORS[code];
    super(format(s.message, args), options);
    this.name = 'NotesError';
    this.code = code;
    this.status = s.status;
    this.exit = s.exit;
    this.rpc = s.rpc;
    this.fix = s.fix;
  }
}

/**
 * The one body of every refusal (HTTP, stdio, nginx's own): a JSON-RPC error envelope, what MCP
 * clients parse, whose data names the declared code, the status and the fix.
 *   { "jsonrpc": "2.0", "id": null,
 *     "error": { "code": -32000, "message": "...", "data": { "code": "NOTES_E_...", "status": 401, "fix": "..." } } }
 */
export function refusalBody(code: ErrorCode, message: string, id: string | number | null = null): string {
  const s = ERRORS[code];
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    error: { code: s.rpc, message, data: { code, status: s.status, fix: s.fix } },
  });
}

export function notesError(code: ErrorCode, ...args: unknown[]): NotesError {
  return new NotesError(code, args);
}

export function isNotesError(err: unknown, code?: ErrorCode): err is NotesError {
  return err instanceof NotesError && (code === undefined || err.code === code);
}

/** A short message for users, never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof NotesError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The shape of a failed zod parse this module needs (zod itself stays out of it). */
interface IssueList {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}

/**
 * One line for a failed validation: where the first problem is and what it is
 * ("port: Too big: expected number to be <=65535"). Every zod boundary reports this way.
 */
export function describeIssues(error: IssueList, root = '(root)'): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.map(String).join('.') || root;
  return `${where}: ${issue.message}`;
}
