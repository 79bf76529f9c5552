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

export function withCachedJsonSchema<T extends object>(schema: T): T {
  const holder = schema as unknown as { '~standard': StandardProps };
  const std = holder['~standard'];
  const convert = std.jsonSchema;
  if (!convert) return schema;
  const cache = new Map<string, unknown>();
  const memo =
    (io: 'input' | 'output') =>
    (options: unknown): unknown => {
      const key = `${io}:${JSON.stringify(options)}`;
      if (!cache.has(key)) cache.set(key, convert[io](options));
      return cache.get(key);
    };
  holder['~standard'] = { ...std, jsonSchema: { input: memo('input'), output: memo('output') } };
  return schema;
}
