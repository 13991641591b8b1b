// Test harness for the console's browser tests: a real dispatch-server (built binary, temp
// SQLite file, temp token file, demo PKI from deploy/make-certs.sh, TLS on every port), the
// console_feeder playing vehicles over the telemetry port, and the system Chromium driven by
// playwright-core from console/node_modules (nothing is downloaded).
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run the browser tests through ctest (label console)`);
  return v;
};
export const SOURCE_DIR = env('CIT_SOURCE_DIR');
export const BINARY_DIR = env('CIT_BINARY_DIR');
const require = createRequire(path.join(SOURCE_DIR, 'console', 'package.json'));
const { chromium } = require('playwright-core');

// Whether 127.0.0.1:port can be listened on right now.
function canListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.on('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// The ports the kernel never hands out on its own (outside its ephemeral range, where every
// listen(0) and outgoing connection takes its port); null when that range leaves too little room.
function portsTheKernelLeavesAlone() {
  let [low, high] = [32768, 60999];
  try {
    [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch { /* not Linux: keep the defaults */ }
  if (low >= 12000) return [10000, low - 1];
  if (high <= 63000) return [high + 1, 65535];
  return null;
}

const handedOut = new Set();

// A port picked now and bound later by the server: picked at random outside the ephemeral range
// (a port from it can be taken meanwhile by another test's listen(0) or a client connection),
// never the same one twice in this process; as tests/support/test_env.cc does.
export async function freePort() {
  const range = portsTheKernelLeavesAlone();
  for (let attempt = 0; range && attempt < 1000; ++attempt) {
    const port = range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));
    if (!handedOut.has(port) && (await canListen(port))) {
      handedOut.add(port);
      return port;
    }
  }
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A token and its token-file entry, as `dispatchctl token new` makes them.
function newToken(name, role) {
  const token = `cit_${randomBytes(32).toString('hex')}`;
  const sha = createHash('sha256').update(token).digest('hex');
  return { token, name, role, entry: `[[token]]\nname = "${name}"\nrole = "${role}"\nsha256 = "${sha}"\n` };
}

// Waits for `fn` to return truthy, checking every `everyMs`; fails after `timeoutMs` with `what`.
export async function until(fn, what, timeoutMs = 20000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class Server {
  constructor(opts = {}) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'citwatch-console-'));
    this.pki = path.join(this.dir, 'pki');
    this.opts = opts;
    this.tokens = {};
    this.proc = null;
    this.log = path.join(this.dir, 'dispatch-server.log');
  }

  async init() {
    execFileSync('bash', [path.join(SOURCE_DIR, 'deploy/make-certs.sh'), this.pki], { stdio: 'ignore' });
    this.ca = readFileSync(path.join(this.pki, 'ca.crt'));
    const people = this.opts.people ?? { olga: 'operator', dora: 'dispatcher', aude: 'auditor', adam: 'admin' };
    let file = '';
    for (const [name, role] of Object.entries(people)) {
      this.tokens[name] = newToken(name, role);
      file += this.tokens[name].entry;
    }
    writeFileSync(path.join(this.dir, 'operator-tokens.toml'), file);
    this.ports = { telemetry: await freePort(), operator: await freePort(), http: await freePort() };
    const http = [
      `listen = "127.0.0.1:${this.ports.http}"`,
      `assets_dir = "${env('CIT_CONSOLE_DIST')}"`,
      ...(this.opts.http ?? []),
    ].join('\n');
    writeFileSync(
      path.join(this.dir, 'dispatch-server.toml'),
      `[telemetry]\nlisten = "127.0.0.1:${this.ports.telemetry}"\n` +
        `[operator]\nlisten = "127.0.0.1:${this.ports.operator}"\n` +
        `[metrics]\nlisten = ""\n` +
        `[tls]\nca = "${this.pki}/ca.crt"\ncert = "${this.pki}/server.crt"\nkey = "${this.pki}/server.key"\n` +
        `[store]\npath = "${this.dir}/dispatch.db"\ndurability = "normal"\n` +
        `[auth]\ntokens = "${this.dir}/operator-tokens.toml"\n` +
        `[http]\n${http}\n` +
        (this.opts.extraToml ?? ''),
    );
    this.base = `https://localhost:${this.ports.http}`;
    await this.start();
    return this;
  }

  async start() {
    const bin = path.join(BINARY_DIR, 'dispatch-server/dispatch-server');
    const out = (await import('node:fs')).openSync(this.log, 'a');
    this.proc = spawn(bin, ['--config', path.join(this.dir, 'dispatch-server.toml')], { stdio: ['ignore', out, out] });
    const proc = this.proc;
    proc.exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
    // Ready when the console's config endpoint answers over TLS.
    await until(async () => {
      if (proc.exitCode !== null) throw new Error(`dispatch-server exited: ${readFileSync(this.log, 'utf8').slice(-2000)}`);
      const r = await this.fetch('GET', '/api/v1/config');
      return r.status === 200;
    }, 'dispatch-server to serve /api/v1/config', 30000).catch((e) => {
      throw new Error(`${e.message}\n${readFileSync(this.log, 'utf8').slice(-3000)}`);
    });
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    await this.proc.exited;
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    if (!process.env.CIT_KEEP_TEST_DIR) rmSync(this.dir, { recursive: true, force: true });
  }

  // A raw HTTPS request (Node side, trusting the demo CA): { status, headers, body }.
  fetch(method, urlPath, { body, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = https.request(
        { host: '127.0.0.1', port: this.ports.http, path: urlPath, method, ca: this.ca, servername: 'localhost',
          headers: { ...(data !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...headers } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            let json;
            try { json = JSON.parse(text); } catch { json = undefined; }
            resolve({ status: res.statusCode, headers: res.headers, text, json });
          });
        },
      );
      req.on('error', reject);
      req.setTimeout(10000, () => req.destroy(new Error(`${method} ${urlPath}: timeout`)));
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  // dispatchctl against this server as `who`; returns stdout.
  ctl(who, ...args) {
    const tokenFile = path.join(this.dir, `${who}.token`);
    writeFileSync(tokenFile, this.tokens[who].token + '\n', { mode: 0o600 });
    return execFileSync(path.join(BINARY_DIR, 'dispatchctl/dispatchctl'),
      ['--server', `localhost:${this.ports.operator}`, '--ca-file', path.join(this.pki, 'ca.crt'), '--token-file', tokenFile, ...args],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  // Creates and dispatches a run from a plan object written as TOML.
  createRun(planToml) {
    const file = path.join(this.dir, `plan-${Date.now()}.toml`);
    writeFileSync(file, planToml);
    this.ctl('dora', 'plan', 'create', '--force', file);  // the vehicle connects later
    const runId = /run_id = "([^"]+)"/.exec(planToml)[1];
    this.ctl('dora', 'plan', 'dispatch', runId);
    return runId;
  }
}

// console_feeder over the telemetry port; send() resolves with the acknowledged record's answer.
export class Feeder {
  constructor(server) {
    this.proc = spawn(env('CIT_FEEDER'), ['--server', `localhost:${server.ports.telemetry}`, '--certs', server.pki], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.waiting = [];
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w(JSON.parse(line));
    });
  }
  send(cmd) {
    return new Promise((resolve, reject) => {
      this.waiting.push((ans) => (ans.ok ? resolve(ans) : reject(new Error(`feeder: ${ans.error} for ${JSON.stringify(cmd)}`))));
      this.proc.stdin.write(JSON.stringify(cmd) + '\n');
    });
  }
  async close() {
    this.proc.stdin.end();
    await new Promise((r) => (this.proc.exitCode !== null ? r() : this.proc.on('exit', r)));
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CIT_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--mute-audio'],
  });
}

export async function newContext(browser, viewport = { width: 1400, height: 860 }) {
  // The server's certificate is signed by the test's own demo CA.
  return browser.newContext({ ignoreHTTPSErrors: true, viewport, timezoneId: 'Europe/Zurich', locale: 'en-GB' });
}

// Signs in through the form and waits for the console's header.
export async function signIn(page, server, who) {
  await page.goto(server.base + '/');
  await page.fill('input.token', server.tokens[who].token);
  await page.click('button.signin-button');
  await page.waitForSelector('header.topbar .who');
}

// Screenshots go to <build>/screenshots, so a test run leaves the checkout clean; with
// CIT_UPDATE_SCREENSHOTS=1 they replace the ones in docs/img that docs/console.md shows.
export function screenshotPath(name) {
  const dir = process.env.CIT_UPDATE_SCREENSHOTS === '1'
    ? path.join(SOURCE_DIR, 'docs', 'img')
    : path.join(BINARY_DIR, 'screenshots');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, `console-${name}.png`);
}

// Collects what must never happen on a console page: CSP violations, script errors, and any
// request to an origin other than the dispatch-server's (a control room's console works with no
// network beyond its server; basemap tiles are off unless configured).
export function watchPage(page, serverBase) {
  const problems = [];
  const allowed = new URL(serverBase).origin;
  page.on('request', (r) => {
    const url = r.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (new URL(url).origin !== allowed) problems.push(`request outside the server: ${url}`);
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}
