// Browser tests: the real server on a demo database in Debian's headless Chromium
// (playwright-core, no browser download). Every page is walked in Japanese and English, signed in
// per role, and saved as a full-page screenshot in target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
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

const user = (role, i = 0) => server.users[role][i];

/// Signs in through the form and returns the page where the role lands.
async function signIn(p, email) {
  await p.goto(`${server.base}/login`);
  await p.fill('input[name=email]', email);
  await p.fill('input[name=password]', server.password);
  await Promise.all([p.waitForURL((u) => !u.pathname.startsWith('/login')), p.click('form.stack button[type=submit]')]);
}

async function as(role, locale = 'ja-JP', i = 0) {
  const p = await page(locale);
  await signIn(p, user(role, i));
  return p;
}

/// No text on the page is an i18n key left untranslated.
async function assertTranslated(p, what) {
  const text = await p.locator('body').innerText();
  const leftover = text.match(/\b(?:app|nav|dash|accounts?|col|report|admin|login|mrr|plan|edit|cap|bud|mat|role|error|audit|key|by|period|measure|lifecycle|segment|touch|health|band|trend|home|renewals|forecast_call|ctas?|cta_status|cta_priority|cta_outcome|cta_source|cta_filter|evidence|status|views|csv|stage|stage_source|onb|pb|ctacfg|tpl|jr|journey|scn|err|sc|um|plan_status|task_side|done_how|criterion|shared)\.[a-z_]+\b/);
  assert.equal(leftover, null, `${what}: untranslated ${leftover}`);
}

test('sign in per role: each lands where it works and sees only its menus', async () => {
  const expect = {
    admin: { landing: '/dashboard', menus: ['ダッシュボード', '顧客一覧', 'レポート', '管理'] },
    cs_ops: { landing: '/dashboard', menus: ['ダッシュボード', '監査ログ'] },
    manager: { landing: '/', menus: ['ホーム', 'ダッシュボード', 'レポート'] },
    csm: { landing: '/', menus: ['ホーム', 'CTA', '顧客一覧'] },
    viewer: { landing: '/dashboard', menus: ['ダッシュボード'] },
    partner: { landing: '/accounts', menus: ['顧客一覧'] },
  };
  for (const [role, e] of Object.entries(expect)) {
    const p = await as(role);
    assert.equal(new URL(p.url()).pathname, e.landing, role);
    const nav = await p.locator('header nav.main').innerText();
    for (const m of e.menus) assert.ok(nav.includes(m), `${role} sees ${m}`);
    if (role === 'partner') assert.ok(!nav.includes('ダッシュボード'), 'a partner has no portfolio dashboard');
    if (role !== 'admin') assert.ok(!nav.includes('管理'), `${role} has no admin menu`);
    if (role === 'csm' || role === 'manager') {
      assert.match(await p.locator('h1').innerText(), /ホーム/, `${role} lands on the home`);
      await assertTranslated(p, `home ${role}`);
    }
    if (role === 'csm') assert.ok((await p.locator('h1').innerText()).includes(user('csm')), 'a CSM sees their own book');
    if (role === 'manager') assert.ok(await p.locator('#team tbody tr').count() > 1, 'a manager sees a line per CSM');
    await shot(p, `landing-${role}-ja`);
    await p.click('header form button');
    assert.equal(new URL(p.url()).pathname, '/login');
    await p.goto(`${server.base}/accounts`);
    assert.equal(new URL(p.url()).pathname, '/login', `${role} is signed out`);
    await p.context().close();
  }
  const p = await page('en-US');
  await p.goto(`${server.base}/login`);
  await p.fill('input[name=email]', user('admin'));
  await p.fill('input[name=password]', 'not the password');
  await p.click('form.stack button[type=submit]');
  assert.match(await p.locator('.error').innerText(), /e-mail address or password is not correct/);
  await shot(p, 'login-failed-en');
});

test('every page in both languages, translated, with a screenshot', async () => {
  const first = await (await (await as('admin')).request.get(`${server.base}/api/v1/accounts?per_page=1`)).json();
  const id = first.accounts[0].account_id;
  const pages = {
    dashboard: '/dashboard', accounts: '/accounts', account: `/accounts/${id}`, 'report-retention': '/reports/retention',
    'report-mrr': '/reports/mrr', 'report-cohorts': '/reports/cohorts', 'report-arr': '/reports/arr', plan: '/plan',
    'plan-edit': '/plan/edit', 'admin-users': '/admin/users', 'admin-keys': '/admin/keys', 'admin-audit': '/admin/audit',
    'admin-jobs': '/admin/jobs', ctas: '/ctas?owner=', home: '/home', renewals: '/renewals?owner=',
    onboarding: '/onboarding?by=segment', 'admin-onboarding': '/admin/onboarding',
  };
  for (const locale of ['ja-JP', 'en-US']) {
    const lang = locale.slice(0, 2);
    const p = await as('admin', locale);
    for (const [name, path] of Object.entries(pages)) {
      const resp = await p.goto(`${server.base}${path}`);
      assert.equal(resp.status(), 200, `${path} ${lang}`);
      assert.equal(await p.locator('html').getAttribute('lang'), lang);
      await assertTranslated(p, `${path} ${lang}`);
      await shot(p, `${name}-${lang}`);
    }
    await p.context().close();
  }
});

test('jobs: the server ran the day\'s scoring on its own, shown in the reader\'s language', async () => {
  const p = await as('admin');
  let row;
  for (let i = 0; i < 50; i++) {
    await p.goto(`${server.base}/admin/jobs`);
    row = p.locator('tr[data-status=done]', { hasText: '毎日のヘルススコア計算' });
    if (await row.count() > 0) break;
    await p.waitForTimeout(200);
  }
  assert.equal(await row.count(), 1, 'one daily scoring job, done');
  assert.match(await row.innerText(), /完了/);
  assert.match(await row.innerText(), /1\/5/, 'one attempt of five');
  const api = await (await p.request.get(`${server.base}/api/v1/jobs?status=done`)).json();
  assert.ok(api.some((j) => j.kind === 'health.daily_score' && j.attempts === 1), JSON.stringify(api));
  await p.goto(`${server.base}/admin/jobs?status=dead`);
  assert.equal(await p.locator('tbody tr').count(), 0);
  assert.match(await p.locator('p.empty').innerText(), /この状態のジョブはありません/);
  await shot(p, 'admin-jobs-done-ja');
});

test('dashboard figures equal the API', async () => {
  const p = await as('manager', 'en-US');
  await p.goto(`${server.base}/dashboard?from=2025-12&to=2026-11`);
  const api = await (await p.request.get(`${server.base}/api/v1/dashboard?from=2025-12&to=2026-11`)).json();
  const yen = (v) => `¥${Math.round(v).toLocaleString('en-US')}`;
  const pct = (v) => `${(v * 100).toFixed(1)}%`;
  const expected = {
    arr: yen(api.arr), mrr: yen(api.mrr), nrr: pct(api.nrr), grr: pct(api.grr),
    logo_churn: pct(api.logo_churn_rate), accounts: api.active_accounts.toLocaleString('en-US'),
  };
  for (const [kpi, value] of Object.entries(expected)) {
    assert.equal((await p.locator(`.kpi[data-kpi=${kpi}] .value`).innerText()).trim(), value, kpi);
  }
  assert.ok(api.arr > 0 && api.nrr > 0.5, 'the demo has revenue');
  assert.equal(await p.locator('section table').first().locator('tbody tr').count(), 12, 'twelve months of movements');
  const bar = p.locator('svg.chart rect title').first();
  assert.ok((await bar.textContent()).includes('¥'), 'chart bars carry their value for hover');
  await shot(p, 'dashboard-period-en');
});

test('account list: active by default, filter, search as typed, sort by ARR, page, export, saved view, language switch keeps filters', async () => {
  const p = await as('admin');
  await p.goto(`${server.base}/accounts?status=all`);
  assert.match(await p.locator('h1').innerText(), /顧客一覧.*300 社/);
  await p.goto(`${server.base}/accounts`);
  const active = Number((await p.locator('h1 small').innerText()).replace(/[^0-9]/g, ''));
  assert.ok(active > 0 && active < 300, `churned accounts are behind the status filter: ${active}`);
  await p.selectOption('select[name=segment]', 'enterprise');
  await p.click('form.filters button[type=submit]');
  const segments = await p.locator('tbody td[data-col=segment]').allInnerTexts();
  assert.ok(segments.length > 0 && segments.every((s) => s === 'エンタープライズ'), segments.join(','));

  await p.goto(`${server.base}/accounts`);
  const name = (await p.locator('tbody td[data-col=name] a').first().innerText()).trim();
  // Typed with full-width letters and spaces, as a Japanese IME may leave it.
  const typed = name.replace(/[A-Za-z0-9]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).split('').join(' ');
  await p.fill('input[name=q]', typed);
  await p.click('form.filters button[type=submit]');
  assert.deepEqual(await p.locator('tbody td[data-col=name] a').allInnerTexts(), [name], `${typed} finds ${name}`);

  await p.goto(`${server.base}/accounts`);
  await p.click('th a[data-sort=mrr]');
  await p.click('th a[data-sort=mrr]');
  assert.equal(await p.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending');
  const arr = (await p.locator('tbody td[data-col=arr]').allInnerTexts()).map((t) => Number(t.replace(/[¥,]/g, '')));
  assert.ok(arr.length === 50 && arr.every((v, i) => i === 0 || arr[i - 1] >= v), `sorted by ARR, highest first: ${arr}`);

  await p.selectOption('select[name=stage]', 'onboarding');
  await p.click('form.filters button[type=submit]');
  const stages = await p.locator('tbody td[data-col=stage]').allInnerTexts();
  assert.ok(stages.length > 0 && stages.every((s) => s === 'オンボーディング'), stages.join(','));
  const csv = await (await p.request.get(server.base + await p.locator('a[download]').getAttribute('href'))).text();
  const total = Number((await p.locator('h1 small').innerText()).replace(/[^0-9]/g, ''));
  assert.ok(csv.startsWith('\ufeff顧客ID,社名'), 'a BOM and Japanese headers, for Excel');
  assert.equal(csv.trim().split('\n').length, total + 1, 'the export holds the whole filtered view');

  await p.fill('form.save-view input[name=name]', 'オンボーディング中');
  await p.click('form.save-view button');
  await p.goto(`${server.base}/accounts`);
  await p.click('nav.views a:has-text("オンボーディング中")');
  assert.equal(await p.locator('select[name=stage]').inputValue(), 'onboarding', 'the saved view opens with its filters');
  await shot(p, 'accounts-saved-view-ja');

  await p.click('a.lang');
  assert.equal(await p.locator('html').getAttribute('lang'), 'en');
  assert.equal(await p.locator('select[name=stage]').inputValue(), 'onboarding', 'the language switch keeps the filters');
  assert.equal(await p.locator('th[aria-sort]').getAttribute('aria-sort'), 'descending', 'and the sort');
  await p.goto(`${server.base}/accounts`);
  assert.equal(await p.locator('html').getAttribute('lang'), 'en', 'the cookie remembers English');
  await assertTranslated(p, 'account list');
  await p.click('a[rel=next]');
  assert.match(await p.locator('nav.pager').innerText(), /Page 2 of \d+/);
  await shot(p, 'accounts-en');
});

test('health: the list filters and sorts by band; the account page explains the score', async () => {
  const p = await as('admin');
  await p.goto(`${server.base}/accounts`);
  await p.selectOption('select[name=health]', 'yellow');
  await p.click('form.filters button[type=submit]');
  await p.click('th a[data-sort=health]');
  const badges = p.locator('tbody td[data-col=health] .band');
  const n = await badges.count();
  assert.ok(n > 0, 'the demo has yellow accounts');
  assert.equal(await p.locator('tbody td[data-col=health] .band:not(.band-yellow)').count(), 0, 'only yellow ones');
  const scores = (await badges.allInnerTexts()).map(Number);
  assert.ok(scores.every((v, i) => v >= 50 && v < 75 && (i === 0 || scores[i - 1] <= v)), `yellow, lowest first: ${scores}`);
  await shot(p, 'accounts-health-yellow-ja');

  const href = await p.locator('tbody tr td:nth-child(1) a').first().getAttribute('href');
  await p.goto(`${server.base}${href}?lang=en`);
  const panel = p.locator('#health');
  await panel.waitFor();
  const api = await (await p.request.get(`${server.base}/api/v1${href}/health`)).json();
  assert.equal(Number(await panel.locator('.health-score .band').innerText()), Math.floor(api.score * 10) / 10, 'one decimal, rounded down');
  assert.match(await panel.innerText(), new RegExp(`Grade ${api.grade}`));
  const points = (await panel.locator('tbody tr:not(.missing) td:nth-child(6)').allInnerTexts()).map(Number);
  const sum = points.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - api.score) < 0.1 * points.length, `points ${points} add up to the score ${api.score}`);
  assert.equal(await panel.locator('tbody tr.missing').count(), api.explanation.missing.length, 'missing measures are shown as such');
  assert.ok((await panel.locator('svg.chart').count()) === 1, 'the weekly score history chart');
  await assertTranslated(p, 'account health');
  await shot(p, 'account-health-en');
});

test('account 360: add a note and log a meeting', async () => {
  const p = await as('csm', 'en-US');
  await p.goto(`${server.base}/accounts?owner=${encodeURIComponent(user('csm'))}`);
  const href = await p.locator('tbody tr td:nth-child(1) a').first().getAttribute('href');
  await p.goto(`${server.base}${href}`);
  assert.ok((await p.locator('svg.chart').count()) >= 1, 'MRR history chart');
  await p.fill('#add-note input[name=subject]', 'Renewal risk');
  await p.fill('#add-note textarea[name=body]', '先方の推進者が来月退職予定。後任の確認を。');
  await p.click('#add-note button');
  const first = p.locator('.timeline li').first();
  assert.match(await first.innerText(), /Renewal risk[\s\S]*後任の確認を/);
  assert.match(await first.innerText(), new RegExp(user('csm').replace('.', '\\.')));
  await p.fill('#log-meeting input[name=occurred_on]', '2026-11-20');
  await p.fill('#log-meeting input[name=subject]', 'Onboarding review');
  await p.click('#log-meeting button');
  assert.match(await p.locator('.timeline').innerText(), /Nov 20, 2026 00:00 · Meeting[\s\S]*Onboarding review/);
  // The journey stage: moved from a past day, listed in the history with who and why.
  await p.selectOption('#set-stage select[name=stage]', 'renewal');
  await p.fill('#set-stage input[name=changed_on]', '2026-10-01');
  await p.fill('#set-stage input[name=note]', 'Renewal talks started');
  await p.click('#set-stage button');
  const change = p.locator('table.stages tr[data-source=manual]').first();
  assert.match(await change.innerText(), /Oct 1, 2026[\s\S]*Renewal[\s\S]*Manual[\s\S]*Renewal talks started/);
  await shot(p, 'account-after-note-en');
});

test('a partner cannot see another partner\'s account, by URL, API or search', async () => {
  const admin = await as('admin');
  const other = (await (await admin.request.get(`${server.base}/api/v1/accounts?partner=P-NISHI&per_page=1`)).json()).accounts[0];
  assert.ok(other, 'the demo has accounts of P-NISHI');
  const alpha = server.users.partner.find((e) => e.startsWith('p-alpha@'));
  const p = await page('ja-JP');
  await signIn(p, alpha);
  const listed = await p.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.account));
  const own = (await (await p.request.get(`${server.base}/api/v1/accounts?per_page=1000`)).json()).accounts;
  assert.ok(listed.length > 0 && own.every((a) => a.partner_id === 'P-ALPHA'), 'a partner lists only its own accounts');
  assert.ok(listed.every((id) => own.some((a) => a.account_id === id)), listed.join(','));
  assert.equal(await p.locator('td[data-col=partner]').count(), 0, 'no partner column for a partner');
  assert.equal((await p.goto(`${server.base}/accounts/${other.account_id}`)).status(), 404);
  assert.equal((await p.request.get(`${server.base}/api/v1/accounts/${other.account_id}`)).status(), 404);
  await p.goto(`${server.base}/accounts?q=${encodeURIComponent(other.name)}&partner=P-NISHI`);
  assert.equal(await p.locator('tbody tr').count(), 0, 'search finds nothing of another partner');
  const csv = await (await p.request.get(`${server.base}/accounts.csv?partner=P-NISHI`)).text();
  assert.ok(!csv.includes('P-NISHI'), 'exports are scoped too');
  assert.equal((await p.goto(`${server.base}/dashboard`)).status(), 403);
  await shot(p, 'partner-forbidden-ja');
});

test('planning page: two scenarios side by side with charts, in both languages', async () => {
  for (const [locale, bottomUp] of [['ja-JP', '必要CSM数（ボトムアップ）'], ['en-US', 'CSMs needed, bottom-up']]) {
    const p = await as('manager', locale);
    await p.goto(`${server.base}/plan`);
    await p.selectOption('select[name=scenario]', 'fy2027');
    await p.selectOption('select[name=compare]', 'default');
    await p.fill('input[name=at]', '2026-11-24');
    await p.click('form.filters button[type=submit]');
    assert.equal(await p.locator('section.column').count(), 2);
    assert.ok((await p.locator('svg.chart').count()) >= 7, 'capacity, hiring, budget charts per column and the funnel');
    const row = p.locator('section.column').first().locator('tr', { hasText: bottomUp });
    assert.equal((await row.locator('td').innerText()).trim(), '17', 'the worked example');
    await shot(p, `plan-${locale.slice(0, 2)}`);
  }
});

test('scenario editor: a bad key is shown and nothing is saved; a fix saves', async () => {
  const p = await as('manager', 'en-US');
  await p.goto(`${server.base}/plan/edit?name=fy2027`);
  const text = await p.locator('textarea').inputValue();
  await p.fill('textarea', text.replace('span_new_lead = 6', 'span_new_leader = 6'));
  await p.fill('input[name=name]', 'browser-test');
  await p.click('main form button[type=submit]');
  assert.match(await p.locator('pre.error').innerText(), /span_new_leader/);
  await shot(p, 'plan-edit-error-en');
  const list = await (await p.request.get(`${server.base}/api/v1/plan/scenarios`)).json();
  assert.ok(!list.some((s) => s.name === 'browser-test'), 'a refused scenario is not saved');

  await p.fill('textarea', text.replace('productive_hours_per_csm = 120', 'productive_hours_per_csm = 130'));
  await p.click('main form button[type=submit]');
  assert.match(await p.locator('.notice').innerText(), /Saved scenario browser-test/);
  await p.click('.notice a');
  const row = p.locator('section.column').first().locator('tr', { hasText: 'CSMs needed, bottom-up' });
  assert.equal((await row.locator('td').innerText()).trim(), '15', '1,950 h / 130 h = 15');
});

test('playbooks: CS Ops reads them in both languages; a refused edit is said in Japanese and saves nothing; a new playbook saves', async () => {
  const p = await as('cs_ops', 'ja-JP');
  await p.goto(`${server.base}/ctas`);
  await Promise.all([p.waitForURL(/\/admin\/playbooks/), p.click('h1 a[href="/admin/playbooks"]')]);
  assert.equal(await p.locator('h1').innerText(), 'プレイブックとCTAの設定');
  assert.ok((await p.locator('h2').allInnerTexts()).includes('リスク / ヘルスが赤に悪化'), 'each playbook is headed by its type and reason, in Japanese');
  await assertTranslated(p, 'playbooks ja');
  const before = await p.locator('textarea[name=config]').inputValue();
  await p.fill('textarea[name=config]', `${before}\n[[playbook]]\ncta_type = "nope"\n`);
  await p.click('main form button[type=submit]');
  assert.equal(await p.locator('p.error').innerText(), 'CTAの設定: "nope" のプレイブック: その種類はありません');
  assert.match(await p.locator('textarea[name=config]').inputValue(), /cta_type = "nope"/, 'the refused text stays to be mended');
  assert.ok((await p.locator('h2').allInnerTexts()).includes('リスク / ヘルスが赤に悪化'), 'the tables still show the saved playbooks');
  await shot(p, 'playbooks-error-ja');
  const saved = await (await p.request.get(`${server.base}/api/v1/playbooks`, { headers: { accept: 'application/toml' } })).text();
  assert.equal(saved, before, 'nothing was saved');

  await p.fill('textarea[name=config]', `${before}\n[[playbook]]\ncta_type = "lifecycle"\n\n[[playbook.task]]\ntitle = "ブラウザテストの確認"\ndue_days = 3\nowner_role = "cs_ops"\n`);
  await p.click('main form button[type=submit]');
  assert.match(await p.locator('.notice').innerText(), /保存しました/);
  const row = p.locator('tr', { hasText: 'ブラウザテストの確認' });
  assert.deepEqual((await row.locator('td').allInnerTexts()).slice(1), ['3', 'CSオペレーション'], 'due in 3 business days, done by CS Ops');

  await p.goto(`${server.base}/admin/playbooks?lang=en`);
  assert.equal(await p.locator('h1').innerText(), 'Playbooks and CTA settings');
  assert.ok((await p.locator('h2').allInnerTexts()).includes('Risk / Health turned red'), 'and in English');
  await assertTranslated(p, 'playbooks en');
  await shot(p, 'playbooks-en');
  // Put the demo's configuration back for the tests that follow.
  await p.fill('textarea[name=config]', before);
  await p.click('main form button[type=submit]');
  assert.match(await p.locator('.notice').innerText(), /^Saved\./);
});

test('journey stages: CS Ops adds one in Japanese, a refused name is said in Japanese and saves nothing, the account list filters by it', async () => {
  const p = await as('cs_ops', 'ja-JP');
  await p.goto(`${server.base}/accounts`);
  await Promise.all([p.waitForURL(/\/admin\/journey/), p.click('main a[href="/admin/journey"]')]);
  assert.equal(await p.locator('h1').innerText(), 'ジャーニーのステージ');
  await assertTranslated(p, 'journey ja');
  const stages = async () => p.locator('#stages tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.stage));
  assert.deepEqual(await stages(), ['onboarding', 'adoption', 'expansion', 'renewal']);
  const adoption = p.locator('#stages tr[data-stage=adoption]');
  const inAdoption = Number((await adoption.locator('td a').innerText()).replace(/,/g, ''));
  assert.ok(inAdoption > 0, 'the demo has accounts in adoption');
  await Promise.all([p.waitForURL(/\/accounts\?stage=adoption/), adoption.locator('td a').click()]);
  assert.equal(await p.locator('select[name=stage] option:checked').innerText(), '活用促進', 'the count opens the list filtered by the stage');
  assert.match(await p.locator('h1 small').innerText(), new RegExp(`${inAdoption.toLocaleString('en-US')}`), 'as many accounts as counted');

  await p.goto(`${server.base}/admin/journey`);
  await p.fill('input[name="name.4"]', 'Activation');
  await p.fill('input[name="label_ja.4"]', '定着化');
  await p.fill('input[name="label_en.4"]', 'Activation');
  await p.fill('input[name="order.4"]', '2');
  // The browser's own pattern check would stop the form; the server's check is the one under test.
  await p.evaluate(() => document.querySelector('#edit-journey').setAttribute('novalidate', ''));
  await p.click('#edit-journey button[type=submit]');
  assert.equal(await p.locator('p.error').innerText(), 'ジャーニー: ステージ "Activation": 名前は英小文字・数字・_ の1〜40文字にしてください');
  assert.equal(await p.locator('input[name="name.4"]').inputValue(), 'Activation', 'what was typed stays');
  await shot(p, 'journey-error-ja');
  const api = async () => (await (await p.request.get(`${server.base}/api/v1/journey`)).json()).stages.map((s) => s.name);
  assert.deepEqual(await api(), ['onboarding', 'adoption', 'expansion', 'renewal'], 'nothing was saved');

  await p.fill('input[name="name.4"]', 'activation');
  await p.click('#edit-journey button[type=submit]');
  assert.match(await p.locator('.notice').innerText(), /保存しました/);
  assert.deepEqual(await stages(), ['onboarding', 'activation', 'adoption', 'expansion', 'renewal'], 'the new stage second');
  assert.equal(await p.locator('#stages tr[data-stage=activation] td').nth(1).innerText(), '定着化');
  await shot(p, 'journey-ja');
  await p.goto(`${server.base}/accounts`);
  assert.ok((await p.locator('select[name=stage] option').allInnerTexts()).includes('定着化'), 'the list filters by the new stage');

  await p.goto(`${server.base}/admin/journey?lang=en`);
  assert.equal(await p.locator('h1').innerText(), 'Journey stages');
  assert.equal(await p.locator('#stages tr[data-stage=activation] td').nth(1).innerText(), 'Activation');
  await assertTranslated(p, 'journey en');
  // Take it off again for the tests that follow.
  await p.check('input[name="remove.1"]');
  await p.click('#edit-journey button[type=submit]');
  assert.match(await p.locator('.notice').innerText(), /^Saved/);
  assert.deepEqual(await api(), ['onboarding', 'adoption', 'expansion', 'renewal']);
});

test('scorecards: a CSM finds how a score is computed from the account page, in both languages; a refused edit is said in Japanese and saves nothing', async () => {
  const p = await as('csm', 'ja-JP');
  await p.goto(`${server.base}/accounts?sort=mrr&order=desc`);
  const href = await p.locator('tbody td[data-col=name] a').first().getAttribute('href');
  await p.goto(`${server.base}${href}`);
  await Promise.all([p.waitForURL(/\/admin\/scorecards/), p.click('#health a[href="/admin/scorecards"]')]);
  assert.match(await p.locator('h1').innerText(), /^ヘルススコアの計算方法/);
  await assertTranslated(p, 'scorecards ja');
  const logins = p.locator('table[data-card=default] tr[data-input="usage.logins_28d"]');
  assert.equal(await logins.locator('td.num').innerText(), '15.0%', 'usage 60 of 100, logins 25 of the group\'s 100');
  assert.match(await logins.locator('td.text').innerText(), /0 以下で0点、40 以上で100点/);
  const shares = await p.locator('table[data-card=default] td.num').allInnerTexts();
  const total = shares.reduce((sum, v) => sum + Number(v.replace('%', '')), 0);
  assert.ok(Math.abs(total - 100) < 0.5, `the measures' shares add up to the whole score (${total})`);
  assert.equal(await p.locator('#edit-scorecards button').count(), 0, 'a CSM reads only');
  await shot(p, 'scorecards-ja');
  // The usage metrics the measures read, one click away.
  await Promise.all([p.waitForURL(/\/admin\/usage/), p.click('h1 a[href="/admin/usage"]')]);
  assert.equal(await p.locator('h1').innerText(), '利用指標とSDKのトレイト');
  assert.match(await p.locator('#metrics tr[data-metric=logins_28d]').innerText(), /ログイン数（28日）[\s\S]*直近28日の login イベントの件数/);
  await assertTranslated(p, 'usage ja');
  await shot(p, 'usage-ja');
  await p.goto(`${server.base}/admin/scorecards?lang=en`);
  assert.match(await p.locator('h1').innerText(), /^How health scores are computed/);
  await assertTranslated(p, 'scorecards en');
  await p.context().close();

  const ops = await as('cs_ops', 'ja-JP');
  await ops.goto(`${server.base}/admin/scorecards`);
  const before = await ops.locator('textarea[name=scorecards]').inputValue();
  await ops.fill('textarea[name=scorecards]', before.replace('green_from = 75', 'green_from = 40'));
  await ops.click('#edit-scorecards button[type=submit]');
  assert.equal(await ops.locator('p.error').innerText(), 'スコアカード: bands: 0 < red_below（50）≦ green_from（40）≦ 100 にしてください');
  await shot(ops, 'scorecards-error-ja');
  const saved = await (await ops.request.get(`${server.base}/api/v1/health/scorecards`)).text();
  assert.equal(saved, before, 'nothing was saved');
  await ops.context().close();
});

test('a form posted from another site is refused, even with a valid token', async () => {
  const p = await as('admin', 'en-US');
  await p.goto(`${server.base}/plan/edit`);
  const token = await p.locator('main input[name=csrf_token]').inputValue();
  // An attacker's page (a blank document of another origin): the SameSite session cookie stays
  // home and the Origin header is not this site's.
  await p.goto('about:blank');
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
  const refused = response.status() === 403 || new URL(response.url()).pathname === '/login';
  assert.ok(refused, `refused (${response.status()} ${response.url()})`);
  const list = await (await p.request.get(`${server.base}/api/v1/plan/scenarios`)).json();
  assert.ok(!list.some((s) => s.name === 'evil'));
});

test('CTAs: a CSM sees today\'s work and why, ticks a task, snoozes one, closes one, and the list follows', async () => {
  for (const locale of ['ja-JP', 'en-US']) {
    const ja = locale === 'ja-JP';
    const p = await as('csm', locale);
    await p.goto(`${server.base}/ctas`);
    const rows = p.locator('table.ctas tbody tr');
    const before = await rows.count();
    assert.ok(before >= 2, `the demo gives the CSM open CTAs (${before})`);
    await assertTranslated(p, `/ctas ${locale}`);
    await shot(p, `ctas-mine-${locale.slice(0, 2)}`);

    // The home lists what is due; the first open one of the list is the soonest due.
    await p.goto(`${server.base}/ctas?status=open`);
    const firstHref = await p.locator('table.ctas tbody tr td:nth-child(5) a').first().getAttribute('href');
    const firstDue = (await p.locator('table.ctas tbody tr td:first-child').first().innerText()).includes(ja ? '期限超過' : 'overdue');
    await p.goto(`${server.base}/`);
    const dueBefore = Number(await p.locator('.kpi[data-kpi=due] .value').innerText());
    if (firstDue) assert.equal(await p.locator(`#today a[href="${firstHref}"]`).count(), 1, 'an overdue CTA is on the home');
    // Why: the evidence of a signal's CTA, in the reader's language.
    await p.goto(`${server.base}${firstHref}`);
    const first = new URL(p.url()).pathname;
    await assertTranslated(p, `${first} ${locale}`);
    if (await p.locator('#evidence').count() > 0) {
      assert.ok((await p.locator('#evidence').innerText()).length > 10, 'the evidence is shown');
    }
    // Tick the first open task.
    const task = p.locator('#tasks li[data-done=false]').first();
    if (await task.count() > 0) {
      const id = await task.getAttribute('data-task');
      await Promise.all([p.waitForURL((u) => u.pathname === first), task.locator('button').click()]);
      assert.equal(await p.locator(`#tasks li[data-task="${id}"]`).getAttribute('data-done'), 'true', 'the task is done');
    }
    // Snooze: a date and a reason.
    await p.fill('#snooze input[name=snoozed_until]', '2099-01-05');
    await p.fill('#snooze input[name=snooze_reason]', ja ? '先方の決算期明けに再開' : 'After their fiscal year end');
    await Promise.all([p.waitForURL((u) => u.pathname === first), p.click('#snooze button[type=submit]')]);
    assert.match(await p.locator('[data-field=status]').innerText(), ja ? /スヌーズ中/ : /Snoozed/);
    await shot(p, `cta-snoozed-${locale.slice(0, 2)}`);
    // The home follows: a snoozed CTA is put aside until its date.
    await p.goto(`${server.base}/`);
    assert.equal(await p.locator(`#today a[href="${first}"]`).count(), 0, 'a snoozed CTA leaves the home');
    if (firstDue) assert.equal(Number(await p.locator('.kpi[data-kpi=due] .value').innerText()), dueBefore - 1, 'one fewer due');

    // Close another with an outcome and a comment whose line breaks are kept.
    await p.goto(`${server.base}/ctas?status=open`);
    const open = p.locator('table.ctas tbody tr td:nth-child(5) a');
    if (await open.count() > 0) {
      await open.first().click();
      await p.waitForURL(/\/ctas\/cta-/);
      const second = new URL(p.url()).pathname;
      await p.fill('#comment textarea', ja ? '電話で確認。\n来週デモ予定。' : 'Called them.\nDemo next week.');
      await Promise.all([p.waitForURL((u) => u.pathname === second), p.click('#comment button[type=submit]')]);
      assert.match(await p.locator('#comments .body').last().innerText(), ja ? /電話で確認。\n来週デモ予定。/ : /Called them.\nDemo next week./);
      await p.selectOption('#close select[name=outcome]', 'success');
      await Promise.all([p.waitForURL((u) => u.pathname === second), p.click('#close button[type=submit]')]);
      assert.match(await p.locator('[data-field=status]').innerText(), ja ? /完了/ : /Closed/);
      assert.match(await p.locator('[data-field=outcome]').innerText(), ja ? /成功/ : /Success/);
    }
    await p.goto(`${server.base}/ctas`);
    const after = await rows.count();
    assert.ok(after <= before, `the list follows (${before} → ${after})`);
    await p.context().close();
  }
});

test('CTAs: a partner sees only its accounts\' CTAs', async () => {
  const p = await as('partner');
  const mine = await (await p.request.get(`${server.base}/api/v1/accounts?per_page=1000`)).json();
  const ids = new Set(mine.accounts.map((a) => a.account_id));
  const ctas = await (await p.request.get(`${server.base}/api/v1/ctas?status=all&per_page=500`)).json();
  assert.ok(ctas.ctas.every((c) => ids.has(c.account_id)), 'only its own accounts');
  const admin = await as('admin');
  const all = await (await admin.request.get(`${server.base}/api/v1/ctas?status=all&per_page=500`)).json();
  const other = all.ctas.find((c) => !ids.has(c.account_id));
  assert.ok(other, 'the demo has CTAs on accounts of other partners');
  const resp = await p.goto(`${server.base}/ctas/${other.cta_id}`);
  assert.equal(resp.status(), 404, 'another partner\'s CTA is not found');
  await p.goto(`${server.base}/ctas?status=all&owner=`);
  await shot(p, 'ctas-partner-ja');

  // An internal note on the partner's own account is the vendor's only; a shared one is seen.
  const account = mine.accounts[0].account_id;
  const post = (body) => admin.request.post(`${server.base}/api/v1/accounts/${account}/activities`, { data: body, headers: { origin: server.base } });
  assert.equal((await post({ kind: 'note', subject: '社内: 値引き余地あり', visibility: 'internal' })).status(), 201);
  assert.equal((await post({ kind: 'meeting', subject: '定例（共有）', attendees: '先方: 推進担当', next_steps: '見積送付', visibility: 'shared' })).status(), 201);
  await p.goto(`${server.base}/accounts/${account}`);
  const timeline = await p.locator('.timeline').innerText();
  assert.ok(timeline.includes('定例（共有）') && timeline.includes('見積送付'), 'the shared meeting with its next steps');
  assert.ok(!timeline.includes('値引き余地'), 'never the internal note');
  assert.equal(await p.locator('.timeline li[data-visibility=internal]').count(), 0, 'no internal entry at all, the demo\'s included');
  await admin.goto(`${server.base}/accounts/${account}`);
  assert.ok((await admin.locator('.timeline').innerText()).includes('値引き余地'), 'the vendor\'s team reads it');
  await shot(p, 'account-partner-timeline-ja');

  // On its own account's CTA, a partner reads the comments shared with it, never the team's.
  const own = ctas.ctas[0];
  assert.ok(own, 'the partner\'s accounts have CTAs');
  const comment = (body) => admin.request.post(`${server.base}/api/v1/ctas/${own.cta_id}/comments`, { data: body, headers: { origin: server.base } });
  assert.equal((await comment({ body: '社内メモ: 値引きは最終手段', visibility: 'internal' })).status(), 201);
  assert.equal((await comment({ body: '共有: 来週の定例で確認します', visibility: 'shared' })).status(), 201);
  await p.goto(`${server.base}/ctas/${own.cta_id}`);
  const thread = await p.locator('#comments').innerText();
  assert.ok(thread.includes('来週の定例で確認します'), 'the shared comment');
  assert.ok(!thread.includes('値引きは最終手段'), 'never the internal one');
  assert.equal(await p.locator('#comments li[data-visibility=internal]').count(), 0, 'nor the demo\'s internal ones');
  const viaApi = await (await p.request.get(`${server.base}/api/v1/ctas/${own.cta_id}`)).json();
  assert.ok(viaApi.comments.every((c) => !c.internal), 'the API hides them too');
  await p.context().close();
  await admin.context().close();
});

test('renewals: a manager sets a forecast call for the team, in Japanese', async () => {
  const p = await as('manager', 'ja-JP');
  await p.goto(`${server.base}/renewals`);
  const rows = p.locator('table.renewals tbody tr');
  assert.ok(await rows.count() > 0, 'the team has renewals in the next 180 days');
  const id = await rows.first().getAttribute('data-account');
  await rows.first().locator('select[name=forecast_call]').selectOption('upsell');
  await Promise.all([p.waitForURL(/\/renewals/), rows.first().locator('button').click()]);
  assert.equal(await p.locator(`tr[data-account="${id}"] select[name=forecast_call]`).inputValue(), 'upsell');
  assert.match(await p.locator('.kpis').innerText(), /アップセル/);
  const api = await (await p.request.get(`${server.base}/api/v1/renewals?owner=`)).json();
  assert.equal(api.renewals.find((r) => r.account_id === id).forecast_call, 'upsell');
  assert.ok(api.renewals.some((r) => r.churn_probability !== null), 'the weekly forecast gives renewals a churn probability');
  await assertTranslated(p, '/renewals ja');
  await shot(p, 'renewals-call-manager-ja');
  await p.context().close();
});

test('renewals: a CSM sets a forecast call and the totals follow', async () => {
  const p = await as('csm', 'en-US');
  await p.goto(`${server.base}/renewals?owner=`);
  const rows = p.locator('table.renewals tbody tr');
  assert.ok(await rows.count() > 0, 'renewals in the window');
  const id = await rows.first().getAttribute('data-account');
  await rows.first().locator('select[name=forecast_call]').selectOption('at_risk');
  await Promise.all([p.waitForURL(/\/renewals/), rows.first().locator('button').click()]);
  assert.equal(await p.locator(`tr[data-account="${id}"] select[name=forecast_call]`).inputValue(), 'at_risk');
  assert.match(await p.locator('.kpis').innerText(), /At risk/);
  await assertTranslated(p, '/renewals en');
  await shot(p, 'renewals-call-en');
  await p.context().close();
});

test('narrow screens: a CSM\'s pages fit 390 px, tables scroll inside themselves', async () => {
  const p = await as('csm');
  await p.setViewportSize({ width: 390, height: 844 });
  for (const path of ['/', '/accounts', '/ctas', '/renewals?owner=', '/dashboard', '/admin/journey', '/admin/scorecards', '/admin/usage']) {
    const resp = await p.goto(`${server.base}${path}`);
    if (resp.status() === 403) continue; // a page this role does not have
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${path} is ${overflow}px wider than the screen`);
  }
  await p.goto(`${server.base}/accounts`);
  const header = await p.locator('header').boundingBox();
  assert.ok(header.width <= 390, 'the header wraps');
  await shot(p, 'accounts-390-ja');
  const href = await p.locator('tbody td[data-col=name] a').first().getAttribute('href');
  await p.goto(`${server.base}${href}`);
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the account page is ${overflow}px wider than the screen`);
  await shot(p, 'account-390-ja');
  await p.context().close();
});

test('charts are legible at their displayed size: never scaled below 11 px text, at 1400 and 390 px wide', async () => {
  const p = await as('manager', 'ja-JP');
  await p.goto(`${server.base}/accounts?sort=mrr&dir=desc`);
  const account = await p.locator('tbody td[data-col=name] a').first().getAttribute('href');
  const pages = ['/dashboard', '/reports', '/plan', account];
  for (const width of [1400, 390]) {
    await p.setViewportSize({ width, height: 900 });
    let charts = 0;
    for (const path of pages) {
      await p.goto(`${server.base}${path}`);
      const found = await p.evaluate(() => [...document.querySelectorAll('svg.chart')].map((svg) => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        const sizes = [...svg.querySelectorAll('text')].map((t) => Number(t.getAttribute('font-size')) * scale);
        return { scale, smallest: Math.min(...sizes) };
      }));
      for (const c of found) {
        assert.ok(c.scale > 0.99, `${path} at ${width}px: a chart is scaled to ${c.scale.toFixed(2)}`);
        assert.ok(c.smallest >= 11, `${path} at ${width}px: chart text of ${c.smallest.toFixed(1)}px`);
      }
      charts += found.length;
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${path} at ${width}px is ${overflow}px wider than the screen`);
    }
    assert.ok(charts >= 5, `${charts} charts seen at ${width}px`);
    if (width === 390) await shot(p, 'account-chart-390-ja');
  }
  await p.context().close();
});

test('onboarding: the report in both languages with its chart and the churn comparison', async () => {
  for (const locale of ['ja-JP', 'en-US']) {
    const p = await as('manager', locale);
    await p.goto(`${server.base}/onboarding?by=segment`);
    const ja = locale === 'ja-JP';
    assert.match(await p.locator('[data-kpi=completion_rate] .label').innerText(), ja ? /期間内完了率/ : /Completion rate in period/);
    assert.match(await p.locator('[data-kpi=completion_rate] .value').innerText(), /%$/);
    assert.ok(await p.locator('#cohorts svg.chart').count() === 1, 'the cohort chart');
    assert.ok(await p.locator('#groups tbody tr').count() >= 2, 'a line per segment');
    assert.ok(['too_thin', 'late_churns_more', 'on_time_churns_more', 'no_clear_difference'].includes(await p.locator('#impact p.verdict').getAttribute('data-verdict')));
    assert.ok(await p.locator('#plans tbody tr').count() > 0, 'running plans listed');
    await assertTranslated(p, `onboarding ${locale}`);
    await shot(p, `onboarding-report-${locale.slice(0, 2)}`);
    await p.goto(`${server.base}/`);
    assert.ok(await p.locator('[data-kpi=onboarding]').count() === 1, 'the home shows the KPI');
    await p.context().close();
  }
});

test('onboarding: a CSM ticks a task and shares the plan; the customer ticks theirs; tampered and expired links are refused', async () => {
  const p = await as('csm');
  const list = await (await p.request.get(`${server.base}/api/v1/onboarding/plans?status=running&per_page=500`)).json();
  const plan = list.plans.find((x) => x.tasks.some((t) => t.side === 'vendor' && !t.done_on) && x.tasks.some((t) => t.side === 'customer' && !t.done_on));
  assert.ok(plan, 'a running plan with open tasks on both sides');
  const vendorTask = plan.tasks.find((t) => t.side === 'vendor' && !t.done_on && t.depends_on.length === 0);
  await p.goto(`${server.base}/onboarding/plans/${plan.plan_id}`);
  await assertTranslated(p, 'plan page');
  const row = p.locator(`tr[data-task="${vendorTask.task_id}"]`);
  await Promise.all([p.waitForURL(/onboarding\/plans/), row.locator('button[type=submit]').click()]);
  assert.equal(await p.locator(`tr[data-task="${vendorTask.task_id}"]`).getAttribute('data-done'), 'yes');
  await shot(p, 'onboarding-plan-ja');
  await Promise.all([p.waitForURL(/shared=/), p.locator('#share button[type=submit]').click()]);
  const link = await p.locator('#shared-link').getAttribute('href');
  assert.match(link, /^\/shared\/plans\//);

  const customerTask = plan.tasks.find((t) => t.side === 'customer' && !t.done_on && t.depends_on.every((d) => plan.tasks.find((x) => x.task_id === d)?.done_on));
  for (const locale of ['en-US', 'ja-JP']) {
    const context = await browser.newContext({ locale, viewport: { width: 390, height: 844 } });
    const c = await context.newPage();
    const resp = await c.goto(`${server.base}${link}`);
    assert.equal(resp.status(), 200);
    const text = await c.locator('main').innerText();
    assert.ok(!text.includes(vendorTask.title) && (!vendorTask.title_en || !text.includes(vendorTask.title_en)), 'vendor tasks never reach the customer');
    assert.match(text, locale === 'ja-JP' ? /導入プランです/ : /Your onboarding plan/);
    await assertTranslated(c, `shared plan ${locale}`);
    const overflow = await c.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the shared plan is ${overflow}px wider than a phone`);
    if (locale === 'en-US' && customerTask) {
      const r = c.locator(`tr[data-task="${customerTask.task_id}"]`);
      await r.locator('input[name=name]').fill('Hanako Yamada');
      await Promise.all([c.waitForURL(/shared\/plans/), r.locator('button[type=submit]').click()]);
      assert.equal(await c.locator(`tr[data-task="${customerTask.task_id}"]`).getAttribute('data-done'), 'yes');
    }
    await shot(c, `shared-plan-${locale.slice(0, 2)}`);
    await context.close();
  }
  if (customerTask) {
    const after = await (await p.request.get(`${server.base}/api/v1/onboarding/plans/${plan.plan_id}`)).json();
    const t = after.tasks.find((x) => x.task_id === customerTask.task_id);
    assert.equal(t.done_by, 'Hanako Yamada');
    assert.equal(t.done_how, 'customer');
  }

  const anon = await (await browser.newContext({ locale: 'ja-JP' })).newPage();
  const tampered = link.slice(0, -1) + (link.endsWith('A') ? 'B' : 'A');
  const bad = await anon.goto(`${server.base}${tampered}`);
  assert.equal(bad.status(), 404);
  assert.match(await anon.locator('main').innerText(), /このリンクは無効です/);
  // An expired link, signed with the server's own key: refused with 410, in the reader's language.
  const key = execFileSync('sqlite3', [server.dbFile, "SELECT body FROM settings WHERE name = 'shared_link_secret'"]).toString().trim();
  const payload = `${plan.plan_id}.20260101`;
  const expired = `/shared/plans/${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
  const gone = await anon.goto(`${server.base}${expired}?lang=en`);
  assert.equal(gone.status(), 410);
  assert.match(await anon.locator('main').innerText(), /expired on 2026-01-01/);
  await shot(anon, 'shared-plan-expired-en');
  await anon.context().close();
  await p.context().close();
});
