// Every expected failure of notes-mcp is declared here once: a stable code, a message
// template a user can act on, the HTTP status it maps to and the CLI exit code.
// Tests check that docs/errors.md lists every code.

export interface ErrorSpec {
  readonly message: string;
  readonly status: number;
  readonly exit: number;
}

function spec(message: string, status: number, exit = 1): ErrorSpec {
  return { message, status, exit };
}

export const ERRORS = {
  NOTES_E_CONFIG: spec('invalid configuration: %s', 500, 2),
  NOTES_E_USAGE: spec('%s', 400, 2),
  NOTES_E_MODEL_MISSING: spec(
    'model %s is not on this machine: run "notes-mcp model fetch" or set NOTES_MCP_MODEL=bundled',
    503,
  ),
  NOTES_E_MODEL_CHECKSUM: spec('model file %s failed its checksum: expected %s, got %s', 500),
  NOTES_E_MODEL_LOAD: spec('model %s could not be loaded: %s', 500),
  NOTES_E_MODEL_FETCH: spec('could not download model %s: %s', 502),
  NOTES_E_MODEL_UNKNOWN: spec(
    'unknown model %s: use "auto", "bundled" or a model listed by "notes-mcp model list"',
    400,
    2,
  ),
  NOTES_E_STATE_LOCKED: spec('state folder %s is already in use by pid %s', 409),
  NOTES_E_STATE_CORRUPT: spec('state file %s is unreadable: %s', 500),
  NOTES_E_INDEX_MODEL_MISMATCH: spec(
    'the index was built with model %s but %s is configured: set the same model, or run "notes-mcp index" to re-embed',
    409,
  ),
  NOTES_E_PATH_INVALID: spec('invalid note path %s: %s', 400),
  NOTES_E_PATH_OUTSIDE: spec('note path %s resolves outside the notes folder', 403),
  NOTES_E_NOTE_NOT_FOUND: spec('note %s does not exist', 404),
  NOTES_E_NOTE_EXISTS: spec(
    'note %s already exists: pass mode "overwrite" to replace it or "append" to add to it',
    409,
  ),
  NOTES_E_NOTE_CONFLICT: spec(
    'note %s changed since you read it (expected hash %s, current %s): read it again and retry',
    409,
  ),
  NOTES_E_NOTE_TOO_LARGE: spec('note %s is too large (%s bytes, limit %s)', 413),
  NOTES_E_AUTH_MISSING: spec('missing bearer token', 401),
  NOTES_E_AUTH_INVALID: spec('invalid or revoked bearer token', 401),
  NOTES_E_AUTH_SCOPE: spec('token scope %s does not allow %s', 403),
  NOTES_E_TOKEN_NOT_FOUND: spec('no token with id %s', 404),
  NOTES_E_HOST_DENIED: spec('host %s is not allowed', 403),
  NOTES_E_ORIGIN_DENIED: spec('origin %s is not allowed', 403),
  NOTES_E_RATE_LIMITED: spec('too many requests: retry after %s seconds', 429),
  NOTES_E_BODY_TOO_LARGE: spec('request body is larger than %s bytes', 413),
  NOTES_E_SHUTTING_DOWN: spec('server is shutting down', 503),
  NOTES_E_TIMEOUT: spec('%s did not finish within %s ms', 504),
  NOTES_E_SESSION_NOT_FOUND: spec('session %s not found: start a new session', 404),
  NOTES_E_TOO_MANY_SESSIONS: spec('too many open sessions (%s): close one and retry', 503),
  NOTES_E_INTERNAL: spec('internal error: %s', 500),
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

  constructor(code: ErrorCode, args: readonly unknown[] = [], options?: { cause?: unknown }) {
    const s = ERRORS[code];
    super(format(s.message, args), options);
    this.name = 'NotesError';
    this.code = code;
    this.status = s.status;
    this.exit = s.exit;
  }
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
