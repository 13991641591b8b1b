// Live map, stop statuses as the truck drives, run view and audit view (issue 11, tests of the
// console). A dispatcher watches: the role reads run reports, so stop statuses come from
// cit.v1.Audit/GetRunReport.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Feeder, Server, launchBrowser, newContext, screenshotPath, signIn, until, watchPage } from './harness.mjs';
import { straightRun } from './plans.mjs';

describe('live map, run view, audit view', () => {
  let server, feeder, browser, ctx, page, run, problems;
  const V = 'CIT-MAP-7';
  const OTHER = 'CIT-MAP-8';

  // Drives the truck to fraction f of the route (several fixes so dwell/arrival rules see it).
  async function driveTo(f, speed = 0) {
    for (let i = 0; i < 3; i++) {
      await feeder.send({ op: 'fix', vehicle: V, lat: run.lat, lon: run.at(f), speed, track: 90 });
    }
  }
  const stopClass = (id) => page.getAttribute(`path.stop[data-stop-id="${id}"]`, 'class');

  before(async () => {
    server = await new Server().init();
    feeder = new Feeder(server);
    run = straightRun({ runId: 'RUN-MAP-7', vehicleId: V });
    server.createRun(run.toml);
    await feeder.send({ op: 'crew', vehicle: V, badge: 'B-1', action: 'in' });
    await feeder.send({ op: 'crew', vehicle: V, badge: 'B-2', action: 'in' });
    await driveTo(0);
    await feeder.send({ op: 'fix', vehicle: OTHER, lat: run.lat + 0.01, lon: run.at(0.7), speed: 0 });
    browser = await launchBrowser();
    ctx = await newContext(browser);
    page = await ctx.newPage();
    problems = watchPage(page, server.base);
    await signIn(page, server, 'dora');
  });
  after(async () => {
    await browser?.close();
    await feeder?.close();
    await server?.close();
  });

  test('the vehicle marker is drawn at the fix position', async () => {
    const lat = run.lat + 0.0003;
    const lon = run.at(0.02);
    await feeder.send({ op: 'fix', vehicle: V, lat, lon, speed: 8, track: 45 });
    await page.waitForSelector(`.vehicle[data-vehicle-id="${V}"]`);
    await page.evaluate((id) => window.cit.map.focusVehicle(id), V);
    const check = async () => {
      const { expected, box } = await page.evaluate(({ id, lat, lon }) => {
        const m = window.cit.map;
        const p = m.map.latLngToContainerPoint([lat, lon]);
        const r = m.map.getContainer().getBoundingClientRect();
        const b = m.markerElement(id).querySelector('.vehicle-arrow').getBoundingClientRect();
        return { expected: { x: r.left + p.x, y: r.top + p.y }, box: { x: b.left + b.width / 2, y: b.top + b.height / 2 } };
      }, { id: V, lat, lon });
      return Math.hypot(expected.x - box.x, expected.y - box.y) <= 2 ? { expected, box } : null;
    };
    const ok = await until(check, 'the marker to sit on the projected fix position (within 2 px)', 10000);
    assert.ok(ok.expected.x > 0 && ok.expected.y > 0);
    // Heading: the arrow is rotated by the fix's track.
    const transform = await page.evaluate((id) => window.cit.map.markerElement(id).querySelector('.vehicle-arrow').style.transform, V);
    assert.equal(transform, 'rotate(45deg)');
  });

  test('selecting the vehicle shows its corridor and stops; stop statuses change as it drives', async () => {
    await page.click(`.vehicle[data-vehicle-id="${V}"]`);
    // 'attached', not 'visible': a corridor along a parallel has a zero-height bounding box,
    // which Playwright counts as hidden although its stroke is drawn.
    await page.waitForSelector('path.corridor', { state: 'attached' });
    await page.waitForSelector('path.stop[data-stop-id="S3"]', { state: 'attached' });
    assert.match(await stopClass('S3'), /stop-pending/);
    await driveTo(0);
    await until(async () => /stop-(arrived|departed)/.test(await stopClass('S1')), 'S1 arrived', 20000);
    await driveTo(0.25, 12);
    await driveTo(0.5, 0);
    await until(async () => /stop-departed/.test(await stopClass('S1')), 'S1 departed', 20000);
    await until(async () => /stop-arrived/.test(await stopClass('S2')), 'S2 arrived', 20000);
    assert.match(await stopClass('S3'), /stop-pending/);
    await page.screenshot({ path: screenshotPath('map') });
  });

  test('clicking an alert centres the map where it happened', async () => {
    await feeder.send({ op: 'panic', vehicle: OTHER, source: 'cab-button' });
    const row = await page.waitForSelector(`li.alert:has-text("${OTHER}")`);
    await page.evaluate(() => window.cit.map.map.setView([46.0, 7.0], 10, { animate: false }));
    await row.click();
    const c = await page.evaluate(() => window.cit.map.map.getCenter());
    assert.ok(Math.abs(c.lat - 47.38) < 0.002, `centre lat ${c.lat}`);
    assert.ok(Math.abs(c.lng - run.at(0.7)) < 0.002, `centre lon ${c.lng}`);
  });

  test('the fleet table lists both vehicles and filters', async () => {
    await page.click('nav a[data-route="fleet"]');
    await page.waitForSelector(`.fleet-table tr[data-vehicle-id="${OTHER}"]`);
    assert.equal(await page.locator('.fleet-table tbody tr').count(), 2);
    await page.fill('.fleet-filter', 'MAP-7');
    await until(async () => (await page.locator('.fleet-table tbody tr').count()) === 1, 'filtered to one row');
    await page.fill('.fleet-filter', '');
  });

  test('run view: plan against actual per stop and a timeline', async () => {
    await page.goto(`${server.base}/#/runs/${run.runId}`);
    await page.waitForSelector('.stops-table tr[data-stop-id="S2"]');
    assert.match(await page.textContent('.stops-table tr[data-stop-id="S1"] .status'), /departed/);
    assert.match(await page.textContent('.stops-table tr[data-stop-id="S3"] .status'), /pending/);
    await page.waitForSelector('.timeline li.tl-record');
    assert.match(await page.textContent('.timeline'), /crew B-1 check in/);
    // Times are local with the zone; UTC on hover.
    const title = await page.getAttribute('.stops-table tr[data-stop-id="S1"] time[title]', 'title');
    assert.match(title, /Z \(UTC\)$/);
    await page.screenshot({ path: screenshotPath('run'), fullPage: true });
  });

  test('audit view: chain verified, export downloads GeoJSON, track replay slider', async () => {
    await page.goto(`${server.base}/#/audit/${run.runId}`);
    await page.waitForSelector('.chain');
    assert.match(await page.textContent('.chain'), /intact/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button.export[data-format="EXPORT_FORMAT_GEOJSON"]')]);
    const file = await download.path();
    const text = (await import('node:fs')).readFileSync(file, 'utf8');
    assert.match(text, /FeatureCollection|LineString/);
    await page.waitForSelector('.replay-slider');
    const before = await page.textContent('.replay-label');
    await page.fill('.replay-slider', '3');
    await until(async () => (await page.textContent('.replay-label')) !== before, 'the replay to move');
    assert.match(await page.textContent('.replay-label'), /fix 4 of/);
  });

  test('no CSP violation, no script error, no request outside the server on any view', () => {
    assert.deepEqual(problems, []);
  });
});
