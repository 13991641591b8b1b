// The period report page (docs/reports.md) against a real dispatch-server: a run driven through
// its three stops inside their windows (on time at each), a PANIC acknowledged by olga, the run
// completed; then auditors and dispatchers see the report with its charts, operators do not.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Feeder, Server, launchBrowser, newContext, screenshotPath, signIn, until, watchPage } from './harness.mjs';
import { straightRun } from './plans.mjs';

describe('period report', () => {
  let server, feeder, browser, ctx, page, problems;
  const V = 'CIT-REPORT-1';

  before(async () => {
    server = await new Server().init();
    feeder = new Feeder(server);
    const run = straightRun({ runId: 'RUN-REPORT-1', vehicleId: V });
    server.createRun(run.toml);
    await feeder.send({ op: 'crew', vehicle: V, badge: 'B-1', action: 'in' });
    await feeder.send({ op: 'crew', vehicle: V, badge: 'B-2', action: 'in' });
    for (const f of [0, 0, 0.25, 0.5, 0.5, 0.75, 1, 1]) {
      await feeder.send({ op: 'fix', vehicle: V, lat: run.lat, lon: run.at(f), speed: f === 0 ? 0 : 10, track: 90 });
    }
    await feeder.send({ op: 'panic', vehicle: V, source: 'cab-button' });
    const panicId = await until(() => {
      const lines = server.ctl('olga', '--json', 'alerts', 'list', '--vehicle', V).split('\n').filter((l) => l);
      const panic = lines.map((l) => JSON.parse(l)).find((a) => a.kind === 'ALERT_KIND_PANIC');
      return panic ? String(panic.alert_id) : null;
    }, 'the PANIC alert to be stored');
    server.ctl('olga', 'ack', panicId, '--comment', 'calling the crew');
    server.ctl('dora', 'plan', 'complete', 'RUN-REPORT-1');
    browser = await launchBrowser();
    ctx = await newContext(browser, { width: 1200, height: 1400 });
    page = await ctx.newPage();
    problems = watchPage(page, server.base);
  });
  after(async () => {
    await browser?.close();
    await feeder?.close();
    await server?.close();
  });

  test('an auditor builds this month\'s report: runs, punctuality, alerts, charts', async () => {
    await signIn(page, server, 'aude');
    await page.click('nav a[data-route="reports"]');
    await page.click('button.run-report');
    await page.waitForSelector('.period-report table.runs');
    const cells = async (sel) => page.$$eval(`${sel} td`, (tds) => tds.map((td) => td.textContent));
    // planned, completed, aborted, in progress, not dispatched, vehicles
    assert.deepEqual(await cells('table.runs'), ['1', '1', '0', '0', '0', '1']);
    // on time, early, late, missed, skipped: each stop reached inside its window
    assert.deepEqual(await cells('table.punctuality'), ['3', '0', '0', '0', '0']);
    assert.equal(await page.getAttribute('.punctuality-chart rect', 'data-minutes'), '0');
    const sites = await page.textContent('.sites-chart');
    for (const s of ['Depot', 'Branch Mitte', 'Vault Ost']) assert.ok(sites.includes(s), s);
    assert.ok((await page.textContent('.alerts-chart')).includes('PANIC CRITICAL'));
    const critical = await page.$$eval('table.by-severity tr', (rows) =>
      rows.map((r) => [...r.children].map((c) => c.textContent)).find((c) => c[0] === 'CRITICAL'));
    assert.equal(critical[2], '1', 'the PANIC was acknowledged');
    assert.ok((await page.textContent('table.by-operator')).includes('olga'));
    const completeness = await cells('table.completeness');
    assert.equal(completeness[1], '8', 'eight fixes stored for the run');
    await page.screenshot({ path: screenshotPath('report'), fullPage: true });
    assert.deepEqual(problems, []);
  });

  test('dispatchers see the page; operators have no link and the server refuses them', async () => {
    const dora = await (await newContext(browser)).newPage();
    await signIn(dora, server, 'dora');
    assert.equal(await dora.locator('nav a[data-route="reports"]').count(), 1);
    const olga = await (await newContext(browser)).newPage();
    await signIn(olga, server, 'olga');
    assert.equal(await olga.locator('nav a[data-route="reports"]').count(), 0);
    let refused;
    try {
      server.ctl('olga', 'report', '--from', '2026-11', '--to', '2026-11');
    } catch (e) {
      refused = e;
    }
    assert.equal(refused?.status, 4);
  });
});
