// Load: 500 vehicles and 1,000 open alerts, then 50 alert events/s for 20 s. Measures in the
// browser, with performance marks, the time from an event's arrival to the board's DOM update
// and to the next painted frame, and the longest gap between frames (responsiveness).
// Figures go to docs/benchmarks.md; the test asserts correctness, not speed.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { Feeder, Server, launchBrowser, newContext, screenshotPath, signIn, until } from './harness.mjs';

const VEHICLES = 500;
const RATE = 50;
const SECONDS = 20;
const vid = (i) => `CIT-L${String(i).padStart(3, '0')}`;

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

describe('500 vehicles, 1,000 open alerts, 50 alert events/s', () => {
  let server, feeder, browser, page;

  before(async () => {
    server = await new Server({ people: { olga: 'operator' } }).init();
    feeder = new Feeder(server);
    const fed = [];
    for (let i = 0; i < VEHICLES; i++) {
      const lat = 47.2 + (i % 25) * 0.01;
      const lon = 8.3 + Math.floor(i / 25) * 0.015;
      fed.push(feeder.send({ op: 'fix', vehicle: vid(i), lat, lon, speed: (i % 7) * 3, track: (i * 37) % 360 }));
    }
    for (let i = 0; i < VEHICLES; i++) {
      for (const s of ['cab', 'rear']) fed.push(feeder.send({ op: 'panic', vehicle: vid(i), source: s }));
    }
    await Promise.all(fed);
    browser = await launchBrowser();
    page = await (await newContext(browser, { width: 1600, height: 1000 })).newPage();
    await page.addInitScript(() => {
      window.citPerf = false;
    });
    await signIn(page, server, 'olga');
  });
  after(async () => {
    await browser?.close();
    await feeder?.close();
    await server?.close();
  });

  test('the board and map keep up', async (t) => {
    const t0 = Date.now();
    await page.waitForSelector('.board-summary:has-text("1000 open")', { timeout: 60000 });
    const initialMs = Date.now() - t0;
    await until(async () => (await page.locator('.vehicle-icon').count()) === VEHICLES, '500 markers', 30000, 200);
    // Start measuring: per-event update times and frame gaps.
    await page.evaluate(() => {
      performance.clearMeasures();
      window.citPerf = true;
      window.__gaps = [];
      let last = performance.now();
      const loop = (now) => {
        window.__gaps.push(now - last);
        last = now;
        if (window.citPerf) requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
    });
    const start = Date.now();
    const sends = [];
    for (let k = 0; k < RATE * SECONDS; k++) {
      const due = start + (k * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // A re-occurrence of an open alert: one alert event each, the open count stays 1,000.
      sends.push(feeder.send({ op: 'panic', vehicle: vid(k % VEHICLES), source: Math.floor(k / VEHICLES) % 2 ? 'cab' : 'rear' }));
    }
    await Promise.all(sends);
    const sentS = (Date.now() - start) / 1000;
    // Every re-occurrence reached the board: the two alerts of vehicle 0 show their counts.
    // Each vehicle's two alerts got (RATE * SECONDS) / VEHICLES / 2 re-occurrences each.
    const occurrences = 1 + (RATE * SECONDS) / VEHICLES / 2;
    await until(async () => (await page.locator(`li.alert:has-text("${vid(0)}") .alert-occurrences`).count()) === 2,
      're-occurrence counts on the board', 30000, 200);
    assert.match(await page.locator(`li.alert:has-text("${vid(0)}") .alert-occurrences`).first().textContent(), new RegExp(`×${occurrences}`));
    const m = await page.evaluate(() => {
      window.citPerf = false;
      const dom = performance.getEntriesByName('board-dom').map((e) => e.duration);
      const frame = performance.getEntriesByName('board-frame').map((e) => e.duration);
      return { dom, frame, gaps: window.__gaps.slice(1) };
    });
    assert.ok(m.dom.length >= RATE * SECONDS * 0.9, `measured ${m.dom.length} events`);
    assert.equal(await page.textContent('.board-summary'), '1000 open, 1000 not acknowledged');
    const f = (x) => x.toFixed(1);
    const line = `events=${m.dom.length} rate=${f((RATE * SECONDS) / sentS)}/s nproc=${os.cpus().length} ` +
      `initial_1000_alerts_ms=${initialMs} ` +
      `dom_ms p50=${f(pct(m.dom, 50))} p95=${f(pct(m.dom, 95))} p99=${f(pct(m.dom, 99))} max=${f(Math.max(...m.dom))} ` +
      `frame_ms p50=${f(pct(m.frame, 50))} p95=${f(pct(m.frame, 95))} p99=${f(pct(m.frame, 99))} max=${f(Math.max(...m.frame))} ` +
      `frame_gap_ms p50=${f(pct(m.gaps, 50))} p99=${f(pct(m.gaps, 99))} max=${f(Math.max(...m.gaps))}`;
    t.diagnostic(line);
    console.log(`MEASURE ${line}`);
    await page.screenshot({ path: screenshotPath('load') });
  });
});
