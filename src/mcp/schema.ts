import { createHash } from 'node:crypto';

// The SDK converts every tool's zod schemas to JSON Schema on each tools/list, and the HTTP
// lanes build a fresh server per request, so the same conversion ran on every call (~2.5 ms).
// Schemas are module constants: convert each once and reuse the result.

interface JsonSchemaConverter {
  input: (options: unknown) => unknown;
  output: (options: unknown) => unknown;
}

interface StandardProps {
  jsonSchema?: JsonSchemaConverter;
  [key: string]: unknown;
}

export interface CachedSchemaOptions {
  /**
   * Give the JSON Schema a `$id` naming its content (`urn:notes-mcp:schema:<name>:<sha256>`).
   * For tool output schemas: the TypeScript SDK client (what most hosts embed) compiles an
   * Ajv validator for every output schema on every tools/list, about 2.5 ms each, unless the
   * schema has an `$id` it has compiled before. Content-addressed, so a changed schema never
   * meets a stale validator. Not for input schemas: some model APIs reject unknown keywords.
   */
  id?: string;
}

export function withCachedJsonSchema<T extends object>(schema: T, options: CachedSchemaOptions = {}): T {
  const holder = schema as unknown as { '~standard': StandardProps };
  const std = holder['~standard'];
  const convert = std.jsonSchema;
  if (!convert) return schema;
  const cache = new Map<string, unknown>();
  const memo =
    (io: 'input' | 'output') =>
    (opts: unknown): unknown => {
      const key = `${io}:${JSON.stringify(opts)}`;
      if (!cache.has(key)) cache.set(key, asListed(convert[io](opts), options.id));
      return cache.get(key);
    };
  holder['~standard'] = { ...std, jsonSchema: { input: memo('input'), output: memo('output') } };
  return schema;
}

/** The JSON Schema as tools/list carries it: no "$schema", and the content $id when named. */
function asListed(json: unknown, name: string | undefined): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  // Without "$schema" a tool schema is JSON Schema 2020-12 (the MCP default, and what zod
  // writes), so the key only lengthens every tools/list that each client parses and walks.
  const { $schema: _dialect, ...rest } = json as Record<string, unknown>;
  if (name === undefined) return rest;
  const hash = createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
  return { $id: `urn:notes-mcp:schema:${name}:${hash}`, ...rest };
}
