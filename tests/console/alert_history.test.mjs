// An alert's history in the console (issue 14): a real escalation policy on a live server takes
// a CREW_INCOMPLETE alert through two steps (the second raises it to critical), an operator
// acknowledges and resolves it on the board, and the alert view lists every event in order with
// time, actor and what it did. Driven by events: the test waits for the rows the live stream
// brings, never for a fixed time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Feeder, Server, launchBrowser, newContext, screenshotPath, signIn, watchPage } from './harness.mjs';
import { straightRun } from './plans.mjs';

// Step 1 at once, step 2 one second after detection: the escalator ticks every 100 ms. The
// targets are exec hooks that succeed (/bin/true), so delivery is real but irrelevant here.
const escalation = `
[notify]
tick_ms = 100
[[notify.targets]]
name = "control-room"
channel = "exec"
argv = ["/bin/true"]
[[notify.targets]]
name = "supervisor"
channel = "exec"
argv = ["/bin/true"]
[[escalation]]
kinds = ["CREW_INCOMPLETE"]
[[escalation.steps]]
after_s = 0
notify = ["control-room"]
[[escalation.steps]]
after_s = 1
notify = ["supervisor"]
raise_to = "CRITICAL"
`;

describe('alert history', () => {
  let server, feeder, browser, ctx, page, run, problems, alertId;
  const V = 'CIT-HIST-1';

  before(async () => {
    server = await new Server({ extraToml: escalation }).init();
    feeder = new Feeder(server);
    run = straightRun({ runId: 'RUN-HIST-1', vehicleId: V });
    server.createRun(run.toml);
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
    problems = watchPage(page, server.base);
    await signIn(page, server, 'olga');
    await page.waitForSelector('.stream-status[data-alerts="live"]');
  });
  after(async () => {
    await browser?.close();
    await feeder?.close();
    await server?.close();
  });

  test('the truck leaves the depot without crew: the alert escalates twice, shown live', async () => {
    // At the depot, then 100 m and 200 m east at 10 m/s: two fixes outside the depot's zone
    // make the run ACTIVE, with no crew checked in.
    const now = Date.now() / 1000;
    await feeder.send({ op: 'fix', vehicle: V, lat: run.lat, lon: run.at(0), speed: 0, track: 90, t: now - 30 });
    await feeder.send({ op: 'fix', vehicle: V, lat: run.lat, lon: run.at(0.05), speed: 10, track: 90, t: now - 20 });
    await feeder.send({ op: 'fix', vehicle: V, lat: run.lat, lon: run.at(0.1), speed: 10, track: 90, t: now - 10 });
    const row = await page.waitForSelector('li.alert:has-text("crew incomplete")');
    alertId = await row.getAttribute('data-alert-id');
    await page.click(`li.alert[data-alert-id="${alertId}"] a.history`);
    await page.waitForSelector(`.alert-view[data-alert-id="${alertId}"] tr.event-raised`);
    assert.equal(new URL(page.url()).hash, `#/alerts/${alertId}`);
    // Step 2 comes a second after detection; the open view reads the history again when the
    // stream reports the change.
    await page.waitForSelector('tr.event-escalated[data-what="escalated: policy step 2"]', { timeout: 20000 });
    const step1 = page.locator('tr.event-escalated[data-what="escalated: policy step 1"]');
    assert.equal(await step1.locator('.event-actor').textContent(), 'escalation');
    assert.match(await step1.locator('.event-text').textContent(), /^escalation step 1 of 2: not acknowledged after 0 s; notify control-room$/);
    const step2 = page.locator('tr.event-escalated[data-what="escalated: policy step 2"]');
    assert.match(await step2.locator('.event-text').textContent(), /after 1 s; severity HIGH -> CRITICAL; notify supervisor/);
    assert.equal(await step2.locator('.sev-text').textContent(), 'high → critical');
    assert.match(await page.textContent('.alert-facts'), /policy step 2 reached/);
  });

  test('acknowledged and resolved on the board: the history lists every event in order', async () => {
    await page.goto(server.base + '/#/live');
    const row = page.locator(`li.alert[data-alert-id="${alertId}"]`);
    await row.locator('.alert-policy:has-text("escalated: step 2")').waitFor();
    await row.locator('button.ack').click();
    await row.locator('textarea.comment').fill('crew chief called, second guard boarding');
    await row.locator('form button.submit').click();
    await page.waitForSelector(`li.alert[data-alert-id="${alertId}"].state-acknowledged`);
    await row.locator('button.resolve').click();
    await row.locator('textarea.comment').fill('both badges checked in at the next stop');
    await row.locator('form button.submit').click();
    await page.waitForSelector(`li.alert[data-alert-id="${alertId}"]`, { state: 'detached' });

    await page.goto(`${server.base}/#/alerts/${alertId}`);
    await page.waitForSelector('tr.event-resolved');
    const rows = await page.$$eval('table.alert-history tbody tr.event', (trs) =>
      trs.map((tr) => ({
        what: tr.dataset.what,
        by: tr.querySelector('.event-actor').textContent,
        text: tr.querySelector('.event-text').textContent,
        time: tr.querySelector('time')?.getAttribute('datetime') ?? '',
        shown: tr.querySelector('time')?.textContent ?? '',
      })));
    assert.deepEqual(rows.map((r) => r.what), [
      'raised', 'escalated: policy step 1', 'escalated: policy step 2', 'acknowledged', 'resolved']);
    assert.deepEqual(rows.map((r) => r.by), ['system', 'escalation', 'escalation', 'olga', 'olga']);
    assert.equal(rows[3].text, '“crew chief called, second guard boarding”');
    assert.equal(rows[4].text, '“both badges checked in at the next stop”');
    // Every event has its own time, in order, shown in the browser's zone (UTC on hover).
    const times = rows.map((r) => Date.parse(r.time));
    assert.ok(times.every((t) => Number.isFinite(t)), `times: ${rows.map((r) => r.time)}`);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `event ${i} before event ${i - 1}`);
    assert.ok(times[2] - times[0] >= 1000, 'step 2 is at least after_s = 1 s after the alert');
    assert.ok(rows.every((r) => /CET|CEST|GMT\+/.test(r.shown)), `local times with zone: ${rows.map((r) => r.shown)}`);
    assert.match(await page.textContent('.alert-facts'), /resolved/);
    await page.screenshot({ path: screenshotPath('alert') });
  });

  test('the API: any role reads the history, an unknown alert is 404', async () => {
    const session = await server.fetch('POST', '/api/v1/session', { body: { token: server.tokens.aude.token } });
    const cookie = session.headers['set-cookie'][0].split(';')[0];
    const headers = { cookie, 'x-csrf-token': session.json.csrfToken };
    const res = await server.fetch('POST', '/api/v1/cit.v1.Alerts/ListAlertEvents', { body: { alertId }, headers });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.alert.alertId, alertId);
    assert.deepEqual(res.json.events.map((e) => e.type), [
      'ALERT_EVENT_TYPE_RAISED', 'ALERT_EVENT_TYPE_ESCALATED', 'ALERT_EVENT_TYPE_ESCALATED',
      'ALERT_EVENT_TYPE_ACKNOWLEDGED', 'ALERT_EVENT_TYPE_RESOLVED']);
    assert.deepEqual(res.json.events.map((e) => e.alert.policyStep), [0, 1, 2, 2, 2]);
    assert.equal(res.json.events[2].alert.severity, 'SEVERITY_CRITICAL');
    const missing = await server.fetch('POST', '/api/v1/cit.v1.Alerts/ListAlertEvents', { body: { alertId: '999999999' }, headers });
    assert.equal(missing.status, 404);
    // The same history is what dispatchctl's audit report shows for the run.
    const report = server.ctl('aude', 'audit', 'report', run.runId);
    assert.match(report, /both badges checked in at the next stop/);
  });

  test('no CSP violation, no script error, no request outside the server', () => {
    assert.deepEqual(problems, []);
  });
});
