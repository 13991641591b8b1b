// The server restarts while the console is open: the board reconnects (signing in again if the
// server forgot the session) and shows every alert raised meanwhile exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Feeder, Server, launchBrowser, newContext, signIn, until } from './harness.mjs';

describe('server restart', () => {
  let server, feeder, browser, page;
  const V = 'CIT-RESTART-1';
  const alertIds = () => page.$$eval('li.alert', (rows) => rows.map((r) => r.dataset.alertId));

  before(async () => {
    server = await new Server({ people: { olga: 'operator' } }).init();
    feeder = new Feeder(server);
    await feeder.send({ op: 'fix', vehicle: V, lat: 47.37, lon: 8.54, speed: 0 });
    browser = await launchBrowser();
    page = await (await newContext(browser)).newPage();
    await signIn(page, server, 'olga');
  });
  after(async () => {
    await browser?.close();
    await feeder?.close();
    await server?.close();
  });

  test('every alert raised across a restart appears exactly once', async () => {
    for (const s of ['a1', 'a2']) await feeder.send({ op: 'panic', vehicle: V, source: s });
    await until(async () => (await alertIds()).length === 2, 'two alerts before the restart');

    await server.restart();
    // Raised while the page is still reconnecting (EventSource retries after a few seconds).
    for (const s of ['b1', 'b2', 'b3']) await feeder.send({ op: 'panic', vehicle: V, source: s });

    // The server keeps sessions in memory: after a restart the console asks to sign in again.
    await until(async () => {
      if (await page.locator('form.signin-form').isVisible().catch(() => false)) {
        await page.fill('input.token', server.tokens.olga.token);
        await page.click('button.signin-button');
      }
      return (await alertIds()).length >= 5;
    }, 'five alerts after the restart', 30000, 200);
    for (const s of ['b4']) await feeder.send({ op: 'panic', vehicle: V, source: s });
    await until(async () => (await alertIds()).length >= 6, 'a sixth alert on the resumed stream');
    const ids = await alertIds();
    assert.equal(ids.length, 6, `rows: ${ids}`);
    assert.equal(new Set(ids).size, 6, `each alert once: ${ids}`);
    const text = await page.textContent('.board-list');
    for (const s of ['a1', 'a2', 'b1', 'b2', 'b3', 'b4']) assert.ok(text.includes(`panic ${s}`) || text.includes(s), s);
    assert.equal(await page.textContent('.board-summary'), '6 open, 6 not acknowledged');
  });
});
