#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).

// SIGHUP's default action kills the process, and newsyslog may send it to the daemon while its
// modules still load; the daemon installs the real handler (reopen the log file) once it runs.
const earlyHup = () => undefined;
if (process.argv.includes('serve')) process.on('SIGHUP', earlyHup);

// An older Node would crash later with a segmentation fault (better-sqlite3's addon): say so now.
const { MIN_NODE, nodeIsRecentEnough } = await import('../dist/src/version.js');
if (!nodeIsRecentEnough(process.versions.node)) {
  process.stderr.write(
    `notes-mcp: Node ${MIN_NODE} or newer is needed, this is Node ${process.versions.node} at ${process.execPath} (NOTES_E_NODE_TOO_OLD)\n`,
  );
  process.exit(1);
}

const { run } = await import('../dist/src/cli/main.js');
run();
