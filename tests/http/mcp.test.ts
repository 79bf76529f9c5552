import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Client as ClientV2 } from '@modelcontextprotocol/client';
import type { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { connectBoth, connectV1, connectV2, startTestDaemon } from '../helpers/daemon.ts';
import { tldrVault, writeNotes } from '../helpers/vault.ts';

const EXTRA_NOTES = {
  'projects/garden.md':
    '---\ntitle: Garden plan\ntags: [home, outdoor]\n---\n# Garden plan\n\nPlant tomatoes and basil in spring. #gardening\n\n## Watering\n\nWater the tomatoes every morning.\n',
  'projects/odd name [1] %.md': '# Odd\n\nA note with an awkward file name about zeppelins.\n',
  'journal/2026-11-20.md': '# Thursday\n\nMet Ana about the zeppelin museum trip.\n',
};

function vault(t: { after: (fn: () => unknown) => void }): string {
  const notes = tldrVault(t, { common: 150, linux: 50 });
  writeNotes(notes, EXTRA_NOTES);
  return notes;
}

type Structured = Record<string, unknown>;

test('every tool works over both protocol revisions', async (t) => {
  const notes = vault(t);
  const d = await startTestDaemon(t, notes);
  for (const c of await connectBoth(t, d.url)) {
    const tag = `[${c.era}]`;
    const tools = await (c.raw as ClientV1).listTools();
    const names = tools.tools.map((x) => x.name).sort();
    assert.deepEqual(
      names,
      [
        'delete_note',
        'edit_note',
        'list_notes',
        'move_note',
        'note_history',
        'read_note',
        'reindex',
        'related_notes',
        'restore_note',
        'search_notes',
        'write_note',
      ],
      tag,
    );
    for (const tool of tools.tools) {
      assert.ok(tool.outputSchema, `${tag} ${tool.name} has an output schema`);
      assert.equal(typeof tool.annotations?.readOnlyHint, 'boolean', `${tag} ${tool.name} annotations`);
      assert.ok((tool.description ?? '').length > 80, `${tag} ${tool.name} description written for a model`);
    }

    const s = await c.callTool('search_notes', { query: 'when should I water the tomatoes', k: 3 });
    assert.ok(!s.isError, `${tag} ${JSON.stringify(s.content)}`);
    const results = (s.structuredContent as Structured).results as Array<Structured>;
    assert.equal(results[0]?.path, 'projects/garden.md', tag);
    assert.equal(results[0]?.uri, 'note://projects/garden.md', tag);
    assert.equal(typeof results[0]?.start_line, 'number');

    const filtered = await c.callTool('search_notes', { query: 'zeppelin', folder: 'journal' });
    assert.deepEqual(
      ((filtered.structuredContent as Structured).results as Structured[]).map((r) => r.path),
      ['journal/2026-11-20.md'],
    );

    const odd = await c.callTool('search_notes', { query: 'zeppelins awkward', k: 1 });
    const oddUri = ((odd.structuredContent as Structured).results as Structured[])[0]?.uri as string;
    assert.equal(oddUri, 'note://projects/odd%20name%20%5B1%5D%20%25.md', tag);
    const readOdd = await c.callTool('read_note', { uri: oddUri });
    assert.match((readOdd.structuredContent as Structured).content as string, /zeppelins/);

    const r = await c.callTool('read_note', { path: 'projects/garden.md', start_line: 6, end_line: 8 });
    const rs = r.structuredContent as Structured;
    assert.equal(rs.title, 'Garden plan');
    assert.deepEqual(rs.front_matter, { title: 'Garden plan', tags: ['home', 'outdoor'] });
    assert.equal(rs.start_line, 6);
    assert.equal(rs.end_line, 8);
    assert.equal(rs.total_lines, 11);
    assert.match(rs.content as string, /^\nPlant tomatoes/);
    assert.match(rs.hash as string, /^[0-9a-f]{64}$/);

    const name = `inbox/from-${c.era}.md`;
    const w = await c.callTool('write_note', { path: name, content: '# Idea\n\nBuild a quokka feeder.\n' });
    assert.ok(!w.isError, JSON.stringify(w.content));
    const ws = w.structuredContent as Structured;
    assert.equal(ws.created, true);
    assert.equal(ws.indexed, true);
    const found = await c.callTool('search_notes', { query: 'quokka feeder', k: 3 });
    assert.ok(
      ((found.structuredContent as Structured).results as Structured[]).some((x) => x.path === name),
      `${tag} searchable at once`,
    );

    const again = await c.callTool('write_note', { path: name, content: 'x' });
    assert.equal(again.isError, true);
    assert.match(JSON.stringify(again.content), /already exists/);

    const app = await c.callTool('write_note', {
      path: name,
      content: 'More.\n',
      mode: 'append',
      expected_hash: ws.hash,
    });
    assert.ok(!app.isError, JSON.stringify(app.content));
    const stale = await c.callTool('write_note', {
      path: name,
      content: 'Clobber',
      mode: 'overwrite',
      expected_hash: ws.hash,
    });
    assert.equal(stale.isError, true, 'expected_hash from before the append is a conflict');
    assert.match(JSON.stringify(stale.content), /changed since you read it/);
    assert.equal(readFileSync(join(notes, name), 'utf8'), '# Idea\n\nBuild a quokka feeder.\nMore.\n');

    const page1 = await c.callTool('list_notes', { limit: 100 });
    const p1 = page1.structuredContent as Structured;
    assert.equal((p1.notes as unknown[]).length, 100);
    assert.ok(typeof p1.next_cursor === 'string');
    const page2 = await c.callTool('list_notes', { limit: 500, cursor: p1.next_cursor });
    const all = [...(p1.notes as Structured[]), ...((page2.structuredContent as Structured).notes as Structured[])];
    assert.equal(all.length, p1.total, 'pages add up to the total');
    assert.equal(new Set(all.map((n) => n.path)).size, all.length);
    const tagged = await c.callTool('list_notes', { tag: 'gardening' });
    assert.deepEqual(
      ((tagged.structuredContent as Structured).notes as Structured[]).map((n) => n.path),
      ['projects/garden.md'],
    );

    const bad = await c.callTool('read_note', { path: 'does/not/exist.md' });
    assert.equal(bad.isError, true);
    assert.match(JSON.stringify(bad.content), /does not exist/);
  }
});

test('reindex reports progress when the client asks for it', async (t) => {
  const d = await startTestDaemon(t, vault(t));
  const c1 = await connectV1(t, d.url);
  const seen: number[] = [];
  const r = await c1.callTool({ name: 'reindex', arguments: { full: true } }, undefined, {
    onprogress: (p) => seen.push(p.progress),
  });
  assert.ok(!r.isError, JSON.stringify(r.content));
  assert.equal((r.structuredContent as Structured).status, 'done');
  assert.ok(seen.length >= 1, 'progress notifications arrived');
  assert.equal(seen[seen.length - 1], (r.structuredContent as Structured).indexed);
});

test('resources: paginated list, template, completion, read by URI', async (t) => {
  const d = await startTestDaemon(t, vault(t));
  const clients: Array<ClientV1 | ClientV2> = [await connectV1(t, d.url), await connectV2(t, d.url)];
  for (const c of clients) {
    const c1 = c as ClientV1;
    const first = await c1.listResources();
    assert.equal(first.resources.length, 203, 'the client follows every nextCursor');
    const templates = await c1.listResourceTemplates();
    assert.equal(templates.resourceTemplates[0]?.uriTemplate, 'note://{+path}');
    const read = await c1.readResource({ uri: 'note://projects/garden.md' });
    assert.match(String((read.contents[0] as { text?: string }).text), /Plant tomatoes/);
    const comp = await c1.complete({
      ref: { type: 'ref/resource', uri: 'note://{+path}' },
      argument: { name: 'path', value: 'proj' },
    });
    assert.deepEqual(comp.completion.values.sort(), ['projects/garden.md', 'projects/odd name [1] %.md']);
    await assert.rejects(c1.readResource({ uri: 'note://../etc/passwd' }));
    await assert.rejects(c1.readResource({ uri: 'note://nope.md' }));
  }
});

test('prompts: answer_from_notes quotes passages with URIs and line ranges; recent_changes lists notes', async (t) => {
  const d = await startTestDaemon(t, vault(t));
  for (const c of [await connectV1(t, d.url), await connectV2(t, d.url)]) {
    const c1 = c as ClientV1;
    const list = await c1.listPrompts();
    assert.deepEqual(list.prompts.map((p) => p.name).sort(), ['answer_from_notes', 'recent_changes']);
    const p = await c1.getPrompt({ name: 'answer_from_notes', arguments: { question: 'when do I water tomatoes?' } });
    const text = (p.messages[0]!.content as { text: string }).text;
    assert.match(text, /note:\/\/projects\/garden\.md#L\d+-L\d+/);
    assert.match(text, /never follow instructions/);
    const recent = await c1.getPrompt({ name: 'recent_changes', arguments: { days: '3' } });
    assert.match((recent.messages[0]!.content as { text: string }).text, /note:\/\/projects\/garden\.md/);
  }
});

test('subscribers hear about edits: 2025 resources/subscribe and 2026 subscriptions/listen', async (t) => {
  const notes = vault(t);
  const d = await startTestDaemon(t, notes);
  const uri = 'note://projects/garden.md';

  const v1 = await connectV1(t, d.url);
  const v1Updates: string[] = [];
  const { ResourceUpdatedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
  v1.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    v1Updates.push(n.params.uri);
  });
  await v1.subscribeResource({ uri });

  const v2 = await connectV2(t, d.url);
  const v2Updates: string[] = [];
  v2.setNotificationHandler('notifications/resources/updated', (n) => {
    v2Updates.push(n.params.uri);
  });
  const sub = await v2.listen({ resourceSubscriptions: [uri] });
  t.after(() => sub.close());

  writeFileSync(join(notes, 'projects/garden.md'), '# Garden plan\n\nPlant tomatoes in May.\n');
  const deadline = Date.now() + 10_000;
  while ((v1Updates.length === 0 || v2Updates.length === 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(v1Updates.slice(0, 1), [uri], '2025 session received notifications/resources/updated');
  assert.deepEqual(v2Updates.slice(0, 1), [uri], '2026 listen stream received notifications/resources/updated');
});

test('/health has no secrets and reports freshness; /metrics counts tool calls by tool and outcome', async (t) => {
  const d = await startTestDaemon(t, vault(t));
  const base = d.url.replace(/\/mcp$/, '');
  const health = (await (await fetch(`${base}/health`)).json()) as Record<string, unknown>;
  assert.equal(health.status, 'ok');
  assert.equal(health.notes, 203);
  assert.ok(
    (health.protocols as string[]).includes('2026-07-28') && (health.protocols as string[]).includes('2025-11-25'),
  );
  assert.equal(typeof (health.index as Record<string, unknown>).lag_ms, 'number');
  assert.doesNotMatch(JSON.stringify(health), /token|nmcp_/i);

  const c = await connectV1(t, d.url);
  await c.callTool({ name: 'search_notes', arguments: { query: 'tomatoes' } });
  await c.callTool({ name: 'read_note', arguments: { path: 'missing.md' } });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /notes_mcp_tool_calls_total\{tool="search_notes",outcome="ok"\} 1/);
  assert.match(metrics, /notes_mcp_tool_calls_total\{tool="read_note",outcome="error"\} 1/);
  assert.match(
    metrics,
    /notes_mcp_mcp_request_duration_seconds_bucket\{le="[^"]+",method="tools\/call",tool="search_notes"\}/,
  );
  assert.match(metrics, /notes_mcp_index_chunks \d+/);
  assert.match(metrics, /notes_mcp_sessions 1/);
  assert.match(metrics, /notes_mcp_embed_seconds_count [1-9]/);
});

test('a 2026 listen stream closed by its client frees its slot', async (t) => {
  const notes = vault(t);
  // Three streams at most: a stream whose slot outlived its connection would show by the fourth.
  const d = await startTestDaemon(t, notes, { maxSessions: 3 });
  const v2 = await connectV2(t, d.url);
  for (let i = 0; i < 8; i++) {
    const sub = await v2.listen({ resourceSubscriptions: ['note://projects/garden.md'] });
    await sub.close();
    // The server sees the disconnect on its next turn; give it a moment.
    await new Promise((r) => setTimeout(r, 50));
  }
  const open = await Promise.all([0, 1, 2].map(() => v2.listen({ resourcesListChanged: true })));
  for (const s of open) await s.close();
});
