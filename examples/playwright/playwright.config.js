// Playwright's webServer on this checkout's own port (docs/recipes.md, "Playwright").
const { defineConfig } = require('@playwright/test');
const { execFileSync, spawnSync } = require('node:child_process');

// This checkout's port: the same on every run, never another checkout's.
const port = execFileSync('devport', ['claim', 'web'], { encoding: 'utf8' }).trim();
// Reuse a server already running only when it is this checkout's own (every socket on the
// port held by your processes working in this folder). Anything else on the port, such as a
// server another worktree left there, is never tested by mistake: Playwright stops with
// "is already used".
const ownServer =
  spawnSync('devport', ['wait', 'web', '--owned', '--timeout', '1s'], { stdio: 'ignore' }).status === 0;

module.exports = defineConfig({
  testDir: 'tests',
  workers: 1,
  use: { baseURL: `http://127.0.0.1:${port}` },
  webServer: {
    command: 'devport exec web -- node server.js',
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: ownServer,
  },
});
