// ctest console_browser_test: the /admin console in Debian's Chromium, driven by playwright-core
// (executablePath /usr/bin/chromium; no browser is ever downloaded). Against a fresh `leaky-tokens
// serve` (run.sh starts it): an ADMIN signs in, creates an API key (shown once), allocates tokens,
// consumes through the API with that key and sees the usage chart change; a USER sees only their own
// tabs. Screenshots go to $LT_ARTIFACTS (build/test-artifacts/console-*.png).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

const BASE = process.env.LT_BASE_URL;
const ARTIFACTS = process.env.LT_ARTIFACTS;
const ROOT_PASSWORD = process.env.LT_ROOT_PASSWORD;
const CHROMIUM = process.env.LT_CHROMIUM || '/usr/bin/chromium';
mkdirSync(ARTIFACTS, { recursive: true });

async function api(method, path, body, headers = {}) {
  const res = await fetch(BASE + path, {
    method, headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

const problems = [];
function watch(page) {
  // API refusals (a 404 "quota not found" for a provider without a pool) are answers the console
  // shows; what must never happen is a script error, a CSP violation, a missing asset or a 5xx.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500 || (r.status() >= 400 && new URL(r.url()).pathname.startsWith('/admin'))) {
      problems.push(`response ${r.status()}: ${r.url()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`); });
}

async function signIn(page, username, password) {
  await page.goto(`${BASE}/admin`);
  await page.fill('[data-testid=login] input[name=username]', username);
  await page.fill('[data-testid=login] input[name=password]', password);
  await page.click('[data-testid=login] button[type=submit]');
  await page.waitForSelector('[data-testid=usage]');
}

const shot = (page, name) => page.screenshot({ path: `${ARTIFACTS}/console-${name}.png`, fullPage: true });

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
try {
  // The console is served with a strict CSP and nothing from outside.
  const index = await fetch(`${BASE}/admin`);
  assert.equal(index.status, 200);
  const csp = index.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.doesNotMatch(await index.text(), /https?:\/\//, 'index.html loads nothing from another origin');

  const root = await api('POST', '/api/v1/auth/login', { username: 'root', password: ROOT_PASSWORD });
  assert.equal(root.status, 200, JSON.stringify(root.body));
  const rootId = root.body.userId;

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(page);
  await signIn(page, 'root', ROOT_PASSWORD);
  assert.ok(await page.isVisible('nav button[data-tab=users]'), 'an ADMIN sees Users & roles');
  await shot(page, '1-signed-in');

  // An API key: created, shown once.
  await page.click('nav button[data-tab=keys]');
  await page.fill('[data-testid=create-key] input[name=name]', 'browser-test');
  await page.click('[data-testid=create-key] button[type=submit]');
  const apiKey = (await page.textContent('[data-testid=new-key-value]')).trim();
  assert.match(apiKey, /^leaky_/);
  await page.waitForSelector('text=browser-test');
  await shot(page, '2-key-created');

  // Tokens: allocate 1000 openai tokens to root's own pool.
  await page.click('nav button[data-tab=quotas]');
  await page.fill('[data-testid=allocate] input[name=allowanceTokens]', '1000');
  await page.click('[data-testid=allocate] button[type=submit]');
  await page.waitForSelector('text=1000 of 1000 tokens remaining');
  await shot(page, '3-allocated');

  // Before: the openai chart shows nothing yet.
  await page.click('nav button[data-tab=usage]');
  const chart = page.locator('[data-testid=chart-openai]');
  await chart.waitFor();
  const before = Number(await chart.getAttribute('data-tokens'));

  // Consume through the API with the new key.
  for (const tokens of [50, 70]) {
    const c = await api('POST', '/api/v1/tokens/consume', { userId: rootId, provider: 'openai', tokens, prompt: 'hi' },
      { 'X-Api-Key': apiKey });
    assert.equal(c.status, 200, JSON.stringify(c.body));
  }

  // After: the chart catches up once analytics has the events (the console refreshes every 5 s).
  const deadline = Date.now() + 20000;
  let after = before;
  while (Date.now() < deadline) {
    await page.click('[data-testid=refresh]');
    await page.waitForTimeout(500);
    after = Number(await page.locator('[data-testid=chart-openai]').getAttribute('data-tokens'));
    if (after >= before + 120) break;
  }
  assert.equal(after, before + 120, 'the openai chart counts the 120 tokens consumed');
  assert.ok(await page.locator('[data-testid=chart-openai] svg rect[fill="#2f5bd3"]').count() > 0, 'a bar is drawn');
  await shot(page, '4-usage');

  // Revoke the key: it stops working at once.
  await page.click('nav button[data-tab=keys]');
  page.once('dialog', (d) => d.accept());
  await page.click('[data-testid=revoke-key]');
  await page.waitForSelector('text=none');
  const refused = await api('POST', '/api/v1/tokens/consume', { userId: rootId, provider: 'openai', tokens: 1 }, { 'X-Api-Key': apiKey });
  assert.equal(refused.status, 401);

  // A USER sees their own tabs only.
  const reg = await api('POST', '/api/v1/auth/register', { username: 'uma', email: 'uma@example.com', password: 'uma-password-1' });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const userPage = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(userPage);
  await signIn(userPage, 'uma', 'uma-password-1');
  await userPage.waitForSelector('[data-testid=chart-openai]');
  assert.equal(await userPage.locator('.msg.error').count(), 0, 'a USER sees their own usage without errors');
  assert.ok(!(await userPage.isVisible('nav button[data-tab=users]')), 'a USER has no Users & roles tab');
  assert.ok(!(await userPage.isVisible('nav button[data-tab=orgs]')), 'a USER has no Organizations tab');
  await userPage.click('nav button[data-tab=quotas]');
  assert.ok(!(await userPage.isVisible('[data-testid=allocate]')), 'a USER cannot allocate');
  await shot(userPage, '5-user');

  assert.deepEqual(problems, [], 'no console errors, CSP violations or external requests');
  console.log(`console browser test: ok (screenshots in ${ARTIFACTS})`);
} finally {
  await browser.close();
}
