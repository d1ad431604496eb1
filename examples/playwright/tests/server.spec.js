// Needs no browser: the `request` fixture speaks HTTP to the server.
const { test, expect } = require('@playwright/test');

test("the server under test is this checkout's", async ({ request }) => {
  const reply = await request.get('/');
  expect(reply.ok()).toBeTruthy();
  expect(await reply.text()).toBe(process.cwd());
});
