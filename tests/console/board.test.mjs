// Sign-in, alert board, acknowledge/resolve with comments, roles, cookies and CSRF against a
// real dispatch-server (issue 11, tests of the console).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Feeder, Server, launchBrowser, newContext, screenshotPath, signIn, until, watchPage } from './harness.mjs';
import { straightRun } from './plans.mjs';

describe('alert board', () => {
  let server, feeder, browser, ctx, page, run, problems;
  const V = 'CIT-BOARD-1';

  before(async () => {
    server = await new Server().init();
    feeder = new Feeder(server);
    run = straightRun({ runId: 'RUN-BOARD-1', vehicleId: V });
    server.createRun(run.toml);
    await feeder.send({ op: 'fix', vehicle: V, lat: run.lat, lon: run.at(0), speed: 0, track: 90 });
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
    problems = watchPage(page, server.base);
  });
  after(async () => {
    await browser?.close();
    await feeder?.close();
    await server?.close();
  });

  test('a wrong token is refused with a clear message', async () => {
    await page.goto(server.base + '/');
    await page.fill('input.token', 'cit_not_a_real_token');
    await page.click('button.signin-button');
    await page.waitForSelector('.signin-form .error:has-text("not accepted")');
  });

  test('sign in with a token: the header shows name and role, the token is not kept in the page', async () => {
    await signIn(page, server, 'olga');
    assert.equal(await page.textContent('header .who'), 'olga (operator)');
    const html = await page.content();
    assert.ok(!html.includes(server.tokens.olga.token), 'token must not stay in the page');
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === 'cit_session');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.secure, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('cit_session')), false);
  });

  test('an alert raised by a record appears on the board (measured) and in the tab title', async (t) => {
    await page.waitForSelector('.stream-status[data-alerts="live"]');
    // Time the row's appearance in the browser itself (Date.now() is the same clock here).
    await page.evaluate(() => {
      window.__seen = {};
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('li.alert')) window.__seen[li.dataset.alertId] ??= Date.now();
      }).observe(document.body, { childList: true, subtree: true });
    });
    const t0 = Date.now();
    await feeder.send({ op: 'panic', vehicle: V, source: 'cab-button' });
    const row = await page.waitForSelector('li.alert.sev-critical:has-text("panic")', { timeout: 10000 });
    const id = await row.getAttribute('data-alert-id');
    const seenAt = await page.evaluate((i) => window.__seen[i], id);
    t.diagnostic(`record sent -> row on the board: ${seenAt - t0} ms`);
    console.log(`MEASURE alert_to_board_ms=${seenAt - t0}`);
    assert.match(await row.textContent(), /CIT-BOARD-1/);
    assert.match(await row.textContent(), /cab-button/);
    await until(async () => (await page.title()).startsWith('(1)'), 'unacknowledged count in the title');
    assert.match(await page.textContent('header .sound'), /sound/i);
  });

  test('acknowledge with a comment; the action and the operator appear in dispatchctl audit report', async () => {
    const row = page.locator('li.alert:has-text("cab-button")');
    await row.locator('button.ack').click();
    await row.locator('textarea.comment').fill('called the crew, all fine');
    await row.locator('form button.submit').click();
    await page.waitForSelector('li.alert.state-acknowledged:has-text("acknowledged by olga")');
    await until(async () => (await page.title()) === 'citwatch', 'title without unacknowledged count');
    const report = server.ctl('aude', 'audit', 'report', run.runId);
    assert.match(report, /olga/);
    assert.match(report, /called the crew, all fine/);
  });

  test('resolving a critical alert needs a comment', async () => {
    const row = page.locator('li.alert:has-text("cab-button")');
    await row.locator('button.resolve').click();
    await row.locator('form button.submit').click();
    await page.waitForSelector('li.alert .form-error:has-text("comment is required")');
    await row.locator('textarea.comment').fill('false alarm, button tested by the crew');
    await row.locator('form button.submit').click();
    await page.waitForSelector('li.alert:has-text("cab-button")', { state: 'detached' });
    assert.match(server.ctl('aude', 'audit', 'report', run.runId), /false alarm, button tested by the crew/);
  });

  test('board shows severities, re-occurrences and the screenshot is saved', async () => {
    await feeder.send({ op: 'panic', vehicle: V, source: 'seat-switch' });
    await feeder.send({ op: 'panic', vehicle: V, source: 'seat-switch' });
    await feeder.send({ op: 'fix', vehicle: V, lat: run.lat + 0.004, lon: run.at(0.2), speed: 12, track: 10 });
    await page.waitForSelector('li.alert:has-text("seat-switch") .alert-occurrences:has-text("×2")');
    // The second press has its own time on the row ("last at"), not only the first one's.
    const last = page.locator('li.alert:has-text("seat-switch") .alert-last');
    assert.match(await last.textContent(), /^last at /);
    assert.match(await last.getAttribute('title'), /occurrence 2; the first was at /);
    assert.equal(await last.locator('time').count(), 1);
    await page.screenshot({ path: screenshotPath('board') });
  });

  test('an auditor sees no acknowledge button and a forged call gets 403', async () => {
    const actx = await newContext(browser);
    const ap = await actx.newPage();
    await signIn(ap, server, 'aude');
    await ap.waitForSelector('li.alert:has-text("seat-switch")');
    assert.equal(await ap.locator('button.ack').count(), 0);
    assert.equal(await ap.locator('button.resolve').count(), 0);
    const id = await ap.getAttribute('li.alert:has-text("seat-switch")', 'data-alert-id');
    const csrf = (await (await actx.request.get(server.base + '/api/v1/session')).json()).csrfToken;
    const res = await actx.request.post(server.base + '/api/v1/cit.v1.Alerts/AckAlert', {
      headers: { 'X-CSRF-Token': csrf },
      data: { alertId: id, comment: 'forged' },
    });
    assert.equal(res.status(), 403);
    assert.equal((await res.json()).code, 'PERMISSION_DENIED');
    await actx.close();
  });

  test('no cookie or an unknown cookie gets 401', async () => {
    const none = await server.fetch('POST', '/api/v1/cit.v1.Alerts/ListAlerts', { body: {} });
    assert.equal(none.status, 401);
    const bogus = await server.fetch('POST', '/api/v1/cit.v1.Alerts/ListAlerts', {
      body: {}, headers: { cookie: 'cit_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    assert.equal(bogus.status, 401);
    const stream = await server.fetch('GET', '/api/v1/session');
    assert.equal(stream.status, 401);
  });

  test('a state-changing call without the CSRF header is refused', async () => {
    const id = await page.getAttribute('li.alert:has-text("seat-switch")', 'data-alert-id');
    const res = await ctx.request.post(server.base + '/api/v1/cit.v1.Alerts/AckAlert', { data: { alertId: id, comment: 'csrf' } });
    assert.equal(res.status(), 403);
    assert.match((await res.json()).message, /CSRF/i);
    const wrong = await ctx.request.post(server.base + '/api/v1/cit.v1.Alerts/AckAlert', {
      headers: { 'X-CSRF-Token': 'wrong' }, data: { alertId: id, comment: 'csrf' } });
    assert.equal(wrong.status(), 403);
    assert.equal(await page.locator('li.alert:has-text("seat-switch").state-open').count(), 1);
  });

  test('no CSP violation, no script error, no request outside the server', () => {
    assert.deepEqual(problems, []);
  });

  test('sign-out ends the session server-side', async () => {
    const cookie = (await ctx.cookies()).find((x) => x.name === 'cit_session').value;
    await page.click('button.signout');
    await page.waitForSelector('form.signin-form');
    const after = await server.fetch('GET', '/api/v1/session', { headers: { cookie: `cit_session=${cookie}` } });
    assert.equal(after.status, 401);
  });
});

describe('session expiry', () => {
  let server;
  before(async () => {
    server = await new Server({ people: { olga: 'operator' }, http: ['session_ttl_s = 2'] }).init();
  });
  after(async () => server?.close());

  test('an expired cookie gets 401', async () => {
    const res = await server.fetch('POST', '/api/v1/session', { body: { token: server.tokens.olga.token } });
    assert.equal(res.status, 200);
    const cookie = res.headers['set-cookie'][0].split(';')[0];
    assert.equal((await server.fetch('GET', '/api/v1/session', { headers: { cookie } })).status, 200);
    // Wait for the expiry as an event: poll until the server says 401 (2 s TTL).
    await until(async () => (await server.fetch('GET', '/api/v1/session', { headers: { cookie } })).status === 401,
      'the session to expire', 15000, 250);
    const call = await server.fetch('POST', '/api/v1/cit.v1.Alerts/ListAlerts', { body: {}, headers: { cookie } });
    assert.equal(call.status, 401);
  });
});
