#!/usr/bin/env node
// devport's npm launcher: the `devport` command of the `devport` package, used only where npm
// linked it instead of the native binary (a global install's first run, a nested install,
// pnpm, Windows). It finds the binary in the platform package npm installed beside it
// (@devport/PLATFORM-ARCH) and runs it with the same arguments, passing signals on and exiting
// as it did. On Unix, when it was started through a bin link that npm made inside this
// package's folder, it first points that link straight at the native binary, so later calls
// do not pay node's start-up (see dist/npm/README.md).
'use strict';

const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

// The variable devport reads for the process a `devport lease` lives with (src/lease.rs).
const OWNER_VAR = 'DEVPORT_LEASE_OWNER';
const platform = `${process.platform}-${process.arch}`;
const pkg = `@devport/${platform}`;
const exe = process.platform === 'win32' ? 'devport.exe' : 'devport';

function fail(message) {
  process.stderr.write(`devport: ${message}\n`);
  // 3: the environment is wrong, as devport's own exit codes say.
  process.exit(3);
}

function nativeBinary() {
  const supported = Object.keys(require('../package.json').optionalDependencies || {});
  if (!supported.includes(pkg)) {
    fail(
      `the npm package has no binary for ${platform} (it has ${supported.join(', ') || 'none'}); ` +
        'build devport from source with `cargo install devport`',
    );
  }
  let dir;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    fail(
      `the native binary for ${platform} is not installed: npm left out the optional package ` +
        `${pkg} (--omit=optional, --no-optional or optional=false); install devport again ` +
        'with optional packages: `npm install devport --include=optional`',
    );
  }
  return path.join(dir, 'bin', exe);
}

// Points the npm bin link this launcher was started through at the native binary, when the
// link is npm's (it leads to this file) and the binary lies inside this package's folder, as
// in a global install: `npm uninstall` then removes the new link as it would have the old one.
// Best effort: a folder the user may not write keeps the launcher.
function relink(binary) {
  if (process.platform === 'win32' || process.env.DEVPORT_NPM_KEEP_LAUNCHER) {
    return;
  }
  const link = process.argv[1];
  const packageDir = path.resolve(__dirname, '..');
  try {
    if (!fs.lstatSync(link).isSymbolicLink()) return;
    if (fs.realpathSync(link) !== fs.realpathSync(__filename)) return;
    if (!fs.realpathSync(binary).startsWith(fs.realpathSync(packageDir) + path.sep)) return;
    const temp = path.join(path.dirname(link), `.devport-relink-${process.pid}`);
    fs.rmSync(temp, { force: true });
    fs.symlinkSync(path.relative(path.dirname(link), binary), temp);
    fs.renameSync(temp, link);
  } catch {
    // The link stays as npm made it; this launcher keeps working.
  }
}

function run() {
  const binary = nativeBinary();
  relink(binary);
  const env = { ...process.env };
  // The launcher exits when devport does: a lease belongs to whoever started the launcher.
  if (!env[OWNER_VAR] && process.ppid > 0) {
    env[OWNER_VAR] = String(process.ppid);
  }
  const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit', env });
  const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2', 'SIGWINCH'];
  const forward = (signal) => {
    try {
      child.kill(signal);
    } catch {
      // The child has exited already.
    }
  };
  if (process.platform !== 'win32') {
    for (const signal of forwarded) process.on(signal, forward);
  }
  child.on('error', (err) => fail(`cannot run ${binary}: ${err.message}`));
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so the caller sees what devport saw.
      for (const s of forwarded) process.removeAllListeners(s);
      process.kill(process.pid, signal);
      process.exit(128 + (require('os').constants.signals[signal] || 0));
    }
    process.exit(code);
  });
}

run();
