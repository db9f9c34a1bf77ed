// Browser tests: the real server in Debian's headless Chromium (playwright-core, no browser
// download). Each page is walked in Japanese and English and saved as a full-page screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const SHOTS = process.env.SCREENSHOTS || 'screenshots';
let server, browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  server?.stop();
});

async function page(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 900 } });
  return context.newPage();
}

async function shot(p, name) {
  await p.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

test('account list: Japanese by default, filter and search, language switch is remembered', async () => {
  const p = await page('ja-JP');
  await p.goto(`${server.base}/accounts`);
  assert.equal(await p.locator('html').getAttribute('lang'), 'ja');
  assert.match(await p.locator('h1').innerText(), /顧客一覧.*300 社/);
  await shot(p, 'accounts-ja');

  await p.selectOption('select[name=segment]', 'enterprise');
  await p.click('button[type=submit]');
  const segments = await p.locator('tbody tr td:nth-child(3)').allInnerTexts();
  assert.ok(segments.length > 0 && segments.every((s) => s === 'エンタープライズ'), segments.join(','));

  const name = (await p.locator('tbody tr td:nth-child(2)').first().innerText()).trim();
  await p.goto(`${server.base}/accounts`);
  await p.fill('input[name=q]', name);
  await p.click('button[type=submit]');
  assert.deepEqual(await p.locator('tbody tr td:nth-child(2)').allInnerTexts(), [name]);

  await p.click('a.lang');
  assert.equal(await p.locator('html').getAttribute('lang'), 'en');
  await p.goto(`${server.base}/accounts`);
  assert.equal(await p.locator('html').getAttribute('lang'), 'en', 'the cookie remembers English');
  assert.match(await p.locator('h1').innerText(), /Accounts/);
  await shot(p, 'accounts-en');
  await p.click('a[rel=next]');
  assert.match(await p.locator('nav.pager').innerText(), /Page 2 of 6/);
});

test('planning page: two scenarios side by side with charts, in both languages', async () => {
  for (const [locale, bottomUp] of [['ja-JP', '必要CSM数（ボトムアップ）'], ['en-US', 'CSMs needed, bottom-up']]) {
    const p = await page(locale);
    await p.goto(`${server.base}/plan`);
    await p.selectOption('select[name=scenario]', 'fy2027');
    await p.selectOption('select[name=compare]', 'default');
    await p.fill('input[name=at]', '2026-11-24');
    await p.click('button[type=submit]');
    assert.equal(await p.locator('section.column').count(), 2);
    assert.ok((await p.locator('svg.chart').count()) >= 7, 'capacity, hiring, budget charts per column and the funnel');
    const row = p.locator('section.column').first().locator('tr', { hasText: bottomUp });
    assert.equal((await row.locator('td').innerText()).trim(), '17', 'the worked example');
    const bar = p.locator('svg.chart rect title').first();
    assert.ok((await bar.textContent()).length > 0, 'bars carry their value for hover');
    await shot(p, `plan-${locale.slice(0, 2)}`);
  }
});

test('scenario editor: a bad key is shown and nothing is saved; a fix saves', async () => {
  const p = await page('en-US');
  await p.goto(`${server.base}/plan/edit?name=fy2027`);
  const text = await p.locator('textarea').inputValue();
  await p.fill('textarea', text.replace('span_new_lead = 6', 'span_new_leader = 6'));
  await p.fill('input[name=name]', 'browser-test');
  await p.click('button[type=submit]');
  assert.match(await p.locator('pre.error').innerText(), /span_new_leader/);
  await shot(p, 'plan-edit-error-en');
  const list = await (await fetch(`${server.base}/api/v1/plan/scenarios`)).json();
  assert.ok(!list.some((s) => s.name === 'browser-test'), 'a refused scenario is not saved');

  await p.fill('textarea', text.replace('productive_hours_per_csm = 120', 'productive_hours_per_csm = 130'));
  await p.click('button[type=submit]');
  assert.match(await p.locator('.notice').innerText(), /Saved scenario browser-test/);
  await p.click('.notice a');
  const row = p.locator('section.column').first().locator('tr', { hasText: 'CSMs needed, bottom-up' });
  assert.equal((await row.locator('td').innerText()).trim(), '15', '1,950 h / 130 h = 15');
});

test('a form posted from another site is refused, even with a valid token', async () => {
  const p = await page('en-US');
  await p.goto(`${server.base}/plan/edit`);
  const token = await p.locator('input[name=csrf_token]').inputValue();
  // localhost and 127.0.0.1 are different sites: the SameSite=Strict cookie stays home and the
  // Origin header names the other site.
  await p.goto(`${server.base.replace('127.0.0.1', 'localhost')}/accounts`);
  const [response] = await Promise.all([
    p.waitForNavigation(),
    p.evaluate(({ target, token }) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = target;
      for (const [name, value] of Object.entries({ name: 'evil', body: 'name = "x"', csrf_token: token })) {
        const input = document.createElement('input');
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
    }, { target: `${server.base}/plan/edit`, token }),
  ]);
  assert.equal(response.status(), 403);
  const list = await (await fetch(`${server.base}/api/v1/plan/scenarios`)).json();
  assert.ok(!list.some((s) => s.name === 'evil'));
});
