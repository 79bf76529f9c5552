import assert from 'node:assert/strict';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, reopenLogs } from '../src/log.ts';
import { tempDir } from './helpers/tmp.ts';

test('SIGHUP reopen: every logger writing to a file gets a fresh file after rotation, not only the last one', (t) => {
  const dir = tempDir(t);
  const a = createLogger({ file: join(dir, 'a.log') });
  const b = createLogger({ file: join(dir, 'b.log') });
  a.info('a before');
  b.info('b before');
  // newsyslog moves the files away, then signals the daemon.
  renameSync(join(dir, 'a.log'), join(dir, 'a.log.0'));
  renameSync(join(dir, 'b.log'), join(dir, 'b.log.0'));
  reopenLogs();
  a.info('a after');
  b.info('b after');
  assert.match(readFileSync(join(dir, 'a.log'), 'utf8'), /a after/);
  assert.match(readFileSync(join(dir, 'b.log'), 'utf8'), /b after/);
  assert.doesNotMatch(readFileSync(join(dir, 'a.log.0'), 'utf8'), /after/);
  assert.doesNotMatch(readFileSync(join(dir, 'b.log.0'), 'utf8'), /after/);
});

test('tokens and authorization headers never reach a log line', (t) => {
  const dir = tempDir(t);
  const log = createLogger({ file: join(dir, 'x.log') });
  log.info({ token: 'secret-token-value', headers: { authorization: 'Bearer secret-token-value' } }, 'request');
  assert.doesNotMatch(readFileSync(join(dir, 'x.log'), 'utf8'), /secret-token-value/);
});
