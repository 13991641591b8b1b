// Browser-side benchmark of the alert board, without a dispatch-server: a scripted source
// serves the built console and the two SSE streams in the API's JSON shapes (docs/http-api.md):
// 500 vehicles, 1,000 open critical alerts, then 50 re-occurrence events/s for 20 s. Measures
// the console's own cost per event in headless Chromium (performance marks board-dom and
// board-frame, frame gaps). The end-to-end figure with the real server is console.load (ctest).
//
//   node tests/console/board_bench.mjs build/ci/console/dist
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const dist = path.resolve(process.argv[2] ?? 'build/ci/console/dist');
const require = createRequire(new URL('../../console/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const VEHICLES = 500, RATE = 50, SECONDS = 20;

const alerts = [];
const events = [];
const clients = new Set();
function emit(a) {
  a.revision++;
  const ev = { eventId: String(events.length + 1), alert: structuredClone(a) };
  events.push(ev);
  for (const c of clients) c.write(`id: ${ev.eventId}\nevent: alert\ndata: ${JSON.stringify(ev)}\n\n`);
}
const pos = (i) => ({ latDeg: 47.2 + (i % 25) * 0.01, lonDeg: 8.3 + Math.floor(i / 25) * 0.015 });
const vehicles = Array.from({ length: VEHICLES }, (_, i) => ({
  vehicleId: `CIT-L${String(i).padStart(3, '0')}`, lastFix: { ...pos(i), trackDeg: (i * 37) % 360, speedMps: 8 },
  connected: true, runId: '', runState: 'RUN_STATE_UNSPECIFIED', moving: true, gnssState: 'GNSS_STATE_FIX_ACQUIRED' }));
for (let i = 0; i < VEHICLES; i++) {
  for (const source of ['cab', 'rear']) {
    const a = { alertId: String(alerts.length + 1), vehicleId: vehicles[i].vehicleId, runId: '', kind: 'ALERT_KIND_PANIC',
      subject: source, severity: 'SEVERITY_CRITICAL', eventTime: new Date(Date.now() - 60000 + alerts.length).toISOString(),
      position: pos(i), details: `duress input ${source}`, state: 'ALERT_STATE_OPEN', delayed: false, delayS: 0,
      occurrences: 1, actions: [], recordSeq: '1', revision: 0 };
    alerts.push(a);
    emit(a);
  }
}

const session = { name: 'bench', role: 'operator', csrfToken: 'x', expiresTime: new Date(Date.now() + 3600e3).toISOString() };
const types = { '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.html': 'text/html' };
const server = http.createServer((req, res) => {
  const p = new URL(req.url, 'http://x').pathname;
  const json = (o) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(o)); };
  if (p === '/api/v1/config') return json({ tileUrl: '', tileAttribution: '', serverName: 'bench' });
  if (p === '/api/v1/session') return json(session);
  if (p.endsWith('/WatchAlerts') || p.endsWith('/WatchFleet')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (p.endsWith('/WatchFleet')) {
      for (const v of vehicles) res.write(`event: vehicle\ndata: ${JSON.stringify(v)}\n\n`);
      return;
    }
    for (const ev of events) res.write(`id: ${ev.eventId}\nevent: alert\ndata: ${JSON.stringify(ev)}\n\n`);
    clients.add(res);
    res.on('close', () => clients.delete(res));
    return;
  }
  const f = path.join(dist, p === '/' ? 'index.html' : p);
  if (!f.startsWith(dist) || !fs.existsSync(f)) { res.writeHead(404); return res.end(); }
  res.writeHead(200, { 'content-type': types[path.extname(f)] ?? 'application/octet-stream',
    'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'" });
  fs.createReadStream(f).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const pct = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((q / 100) * s.length))]; };
const browser = await chromium.launch({ executablePath: process.env.CIT_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--mute-audio'] });
const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
const t0 = Date.now();
await page.goto(base + '/');
await page.waitForSelector('.board-summary:has-text("1000 open")', { timeout: 120000 });
const initialMs = Date.now() - t0;
await page.evaluate(() => {
  performance.clearMeasures();
  window.citPerf = true;
  window.__gaps = [];
  let last = performance.now();
  const loop = (now) => { window.__gaps.push(now - last); last = now; if (window.citPerf) requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
});
const start = Date.now();
for (let k = 0; k < RATE * SECONDS; k++) {
  const wait = start + (k * 1000) / RATE - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const a = alerts[k % alerts.length];
  a.occurrences++;
  emit(a);
}
await page.waitForFunction((n) => performance.getEntriesByName('board-dom').length >= n, RATE * SECONDS, { timeout: 60000 });
const m = await page.evaluate(() => {
  window.citPerf = false;
  return { dom: performance.getEntriesByName('board-dom').map((e) => e.duration),
    frame: performance.getEntriesByName('board-frame').map((e) => e.duration), gaps: window.__gaps.slice(1) };
});
const f = (x) => x.toFixed(1);
console.log(`events=${m.dom.length} nproc=${os.cpus().length} initial_1000_alerts_ms=${initialMs} ` +
  `dom_ms p50=${f(pct(m.dom, 50))} p95=${f(pct(m.dom, 95))} p99=${f(pct(m.dom, 99))} max=${f(Math.max(...m.dom))} ` +
  `frame_ms p50=${f(pct(m.frame, 50))} p95=${f(pct(m.frame, 95))} p99=${f(pct(m.frame, 99))} max=${f(Math.max(...m.frame))} ` +
  `frame_gap_ms p50=${f(pct(m.gaps, 50))} p99=${f(pct(m.gaps, 99))} max=${f(Math.max(...m.gaps))}`);
await browser.close();
server.close();
for (const c of clients) c.destroy();
