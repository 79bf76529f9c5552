import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { z } from 'zod';
import { VERSION } from '../../src/version.ts';
import { BIN, REPO_ROOT } from '../helpers/tmp.ts';

// The official MCP registry's schema for server.json, vendored (tests/fixtures/mcp-registry):
// the test must not need the network, and a newer schema is a deliberate change.
const SCHEMA_FILE = join(REPO_ROOT, 'tests', 'fixtures', 'mcp-registry', 'server.schema.json');

const Argument = z.object({
  type: z.enum(['positional', 'named']),
  name: z.string().optional(),
  value: z.string().optional(),
});
const ServerJson = z.object({
  $schema: z.string(),
  name: z.string(),
  version: z.string(),
  repository: z.object({ url: z.string(), source: z.string() }),
  packages: z
    .array(
      z.object({
        registryType: z.string(),
        identifier: z.string(),
        version: z.string(),
        packageArguments: z.array(Argument),
        environmentVariables: z.array(z.object({ name: z.string(), value: z.string().optional() })),
      }),
    )
    .length(1),
});
const PackageJson = z.object({
  name: z.string(),
  version: z.string(),
  mcpName: z.string(),
  repository: z.object({ url: z.string() }),
});

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

function validator(): (data: unknown) => string[] {
  const schema = z.object({ $id: z.string() }).loose().parse(readJson(SCHEMA_FILE));
  // strict: false because the schema carries OpenAPI's `example` keyword, which JSON Schema
  // does not define; `uri` is the only format it uses.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  const validate = ajv.compile(schema);
  return (data) => (validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}

test('server.json is valid against the MCP registry schema it names', () => {
  const raw = readJson(join(REPO_ROOT, 'server.json'));
  const errors = validator()(raw);
  assert.deepEqual(errors, []);
  const schemaId = z.object({ $id: z.string() }).loose().parse(readJson(SCHEMA_FILE)).$id;
  assert.equal(ServerJson.parse(raw).$schema, schemaId);
});

test('the vendored schema refuses what the registry refuses', () => {
  const validate = validator();
  const good = z.record(z.string(), z.unknown()).parse(readJson(join(REPO_ROOT, 'server.json')));
  assert.deepEqual(validate(good), []);
  assert.notDeepEqual(validate({ ...good, name: 'no-slash' }), [], 'a name without a namespace');
  assert.notDeepEqual(validate({ ...good, description: 'x'.repeat(101) }), [], 'a description over 100 characters');
  const { version: _dropped, ...noVersion } = good;
  assert.notDeepEqual(validate(noVersion), [], 'no version');
});

test('server.json, package.json and the code agree on name, version and repository', () => {
  const server = ServerJson.parse(readJson(join(REPO_ROOT, 'server.json')));
  const pkg = PackageJson.parse(readJson(join(REPO_ROOT, 'package.json')));
  const npm = server.packages[0]!;
  // The registry proves npm ownership by package.json's mcpName naming the server.
  assert.equal(pkg.mcpName, server.name);
  assert.equal(npm.registryType, 'npm');
  assert.equal(npm.identifier, pkg.name);
  assert.equal(server.version, pkg.version);
  assert.equal(npm.version, pkg.version);
  assert.equal(VERSION, pkg.version, 'src/version.ts');
  assert.equal(pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, ''), server.repository.url);
  // The namespace the registry accepts for a GitHub login is io.github.<owner>.
  const owner = new URL(server.repository.url).pathname.split('/')[1];
  assert.equal(server.name.split('/')[0], `io.github.${owner}`);
});

test('the command server.json gives a client is one the CLI accepts', () => {
  const npm = ServerJson.parse(readJson(join(REPO_ROOT, 'server.json'))).packages[0]!;
  const args = npm.packageArguments;
  assert.deepEqual(
    args.filter((a) => a.type === 'positional').map((a) => a.value),
    ['serve', '--stdio'],
  );
  const help = execFileSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' });
  for (const a of args) {
    const flag = a.type === 'named' ? a.name : a.value?.startsWith('--') ? a.value : undefined;
    if (flag) assert.match(help, new RegExp(`(^|\\s)${flag}\\b`, 'm'), `serve --help lists ${flag}`);
  }
  const env = new Map(npm.environmentVariables.map((e) => [e.name, e.value]));
  // onnxruntime-node's install script reads this and then downloads nothing.
  assert.equal(env.get('ONNXRUNTIME_NODE_INSTALL'), 'skip');
});
