import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectV1, connectV2, startTestDaemon } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';

test('tools/list: output schemas carry a content $id, input schemas none; one cached list serves both eras', async (t) => {
  const notes = tempDir(t, 'notes-mcp-notes-');
  writeNotes(notes, { 'a.md': '# A\n\nSome text.\n' });
  const d = await startTestDaemon(t, notes);
  const v2 = await connectV2(t, d.url);
  const v1 = await connectV1(t, d.url);

  // The 2026 lane first: it stamps era-specific _meta onto results, which must not leak
  // into the 2025 answer through the shared, cached list.
  const modern = await v2.listTools(undefined, { cacheMode: 'refresh' });
  const legacy = await v1.listTools();
  const modernAgain = await v2.listTools(undefined, { cacheMode: 'refresh' });
  assert.ok(modern._meta?.['io.modelcontextprotocol/serverInfo'], 'the 2026 lane stamps serverInfo');
  assert.equal(legacy._meta, undefined, 'no 2026 _meta in a 2025 result');
  assert.deepEqual(modernAgain.tools, modern.tools);
  assert.deepEqual(
    legacy.tools.map((x) => x.name),
    modern.tools.map((x) => x.name),
  );

  const ids = new Set<string>();
  for (const tool of legacy.tools) {
    const id = tool.outputSchema?.$id;
    assert.equal(typeof id, 'string', `${tool.name} output schema $id`);
    assert.match(id as string, new RegExp(`^urn:notes-mcp:schema:${tool.name}\\.output:[0-9a-f]{16}$`));
    ids.add(id as string);
    assert.equal((tool.inputSchema as { $id?: unknown }).$id, undefined, `${tool.name} input schema has no $id`);
    // 2020-12 is the default dialect: no "$schema" on every schema of every tools/list.
    assert.equal((tool.inputSchema as { $schema?: unknown }).$schema, undefined, `${tool.name} input $schema`);
    assert.equal(tool.outputSchema?.$schema, undefined, `${tool.name} output $schema`);
  }
  assert.equal(ids.size, legacy.tools.length, 'one $id per schema');

  // Validators compiled once per $id still validate: structured results pass on both clients.
  for (const c of [v1, v2]) {
    const r = await (c as typeof v1).callTool({ name: 'list_notes', arguments: {} });
    assert.ok(!r.isError, JSON.stringify(r.content));
    const again = await (c as typeof v1).callTool({ name: 'search_notes', arguments: { query: 'text' } });
    assert.ok(!again.isError, JSON.stringify(again.content));
  }
});
