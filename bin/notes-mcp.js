#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm install` through the prepare script).

// SIGHUP's default action kills the process, and newsyslog may send it to the daemon while its
// modules still load; the daemon installs the real handler (reopen the log file) once it runs.
const earlyHup = () => undefined;
if (process.argv.includes('serve')) process.on('SIGHUP', earlyHup);

const { run } = await import('../dist/src/cli/main.js');
run();
