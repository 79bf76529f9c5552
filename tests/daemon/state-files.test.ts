import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenStore } from '../../src/auth/tokens.ts';
import { STATE_FILES } from '../../src/config/index.ts';
import { startDaemon } from '../../src/daemon/daemon.ts';
import { silentLogger } from '../../src/log.ts';
import { tempDir } from '../helpers/tmp.ts';
import { testConfig, writeNotes } from '../helpers/vault.ts';

test('a 0.1.0 state folder: <state>/token becomes <state>/access.token, contents kept', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const state = tempDir(t);
  // As 0.1.0 left it: the hashed token in tokens.json, the plain one in <state>/token.
  const { token } = new TokenStore(join(state, 'tokens.json')).create('initial', 'write');
  writeFileSync(join(state, 'token'), `${token}\n`, { mode: 0o600 });
  const d = await startDaemon({
    config: testConfig(notes, state, { port: 0, logLevel: 'silent' }),
    log: silentLogger(),
  });
  t.after(() => d.shutdown('test end'));
  assert.equal(existsSync(join(state, 'token')), false);
  assert.equal(readFileSync(join(state, STATE_FILES.accessToken), 'utf8'), `${token}\n`);
});
