// Test harness for the browser tests: starts `tocsin serve` and `mm-emulator` on free loopback
// ports with a temporary data dir, drives Debian's Chromium through playwright-core (never a
// downloaded browser), records every response a page receives, and stops everything.
//
// Binaries come from the environment (ctest sets them): TOCSIN_BINARY, TOCSIN_EMULATOR_BINARY.
// Screenshots go to TOCSIN_E2E_SCREENSHOTS (default: a temp dir, printed once).
import {spawn} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

const CHROMIUM = process.env.TOCSIN_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

function binary(name) {
  const p = process.env[name];
  if (!p) throw new Error(`${name} is not set: run through ctest, or export it (path of the built binary)`);
  if (!existsSync(p)) throw new Error(`${name}=${p} does not exist: build it first`);
  return p;
}

// Waits until `pattern` matches the process's combined output; bounded by `timeoutMs`.
function waitForOutput(child, pattern, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} did not start within ${timeoutMs} ms; output:\n${buf}`));
    }, timeoutMs);
    const onData = (d) => {
      buf += d.toString();
      const m = buf.match(pattern);
      if (m) {
        cleanup();
        resolve({match: m, output: () => buf});
      }
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`${what} exited early (code ${code}); output:\n${buf}`));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', onExit);
  });
}

function stopper(child) {
  return () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

// The emulator with its demo world (team security; channels alerts, scans, incidents; a bot
// that is in alerts and scans only).
export async function startEmulator() {
  const child = spawn(binary('TOCSIN_EMULATOR_BINARY'), ['--listen', '127.0.0.1:0'], {stdio: ['ignore', 'pipe', 'pipe']});
  const {output} = await waitForOutput(child, /Ctrl-C stops/, 10000, 'mm-emulator');
  const text = output();
  const url = text.match(/listening on (http:\/\/\S+)/)[1];
  const botToken = text.match(/bot token \(tocsin-bot\):\s+(\S+)/)[1];
  const userToken = text.match(/user token \(alice, PAT\):\s+(\S+)/)[1];
  const channels = {};
  for (const m of text.matchAll(/channel\s+(\S+)\s+([a-z0-9]{26})/g)) channels[m[1]] = m[2];
  return {
    url, botToken, userToken, channels, stop: stopper(child),
    async posts(channelId) {
      const r = await fetch(`${url}/_emulator/posts?channel_id=${encodeURIComponent(channelId)}`);
      if (!r.ok) throw new Error(`emulator posts: HTTP ${r.status}`);
      const body = await r.json();
      return Array.isArray(body) ? body : (body.posts || body.items || []);
    },
  };
}

export async function startTocsin({env = {}} = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tocsin-e2e-'));
  const child = spawn(binary('TOCSIN_BINARY'),
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...env}});
  const {match, output} = await waitForOutput(child, /serving port=(\d+)/, 15000, 'tocsin serve');
  const port = Number(match[1]);
  const adminToken = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const stop = stopper(child);
  return {
    url: `http://127.0.0.1:${port}`, port, dataDir, adminToken, output,
    async stop() {
      await stop();
      rmSync(dataDir, {recursive: true, force: true});
    },
    // Calls the API with the admin token (test setup, not what the UI does).
    async api(method, p, body) {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1${p}`, {
        method,
        headers: {Authorization: `Bearer ${adminToken}`, ...(body ? {'Content-Type': 'application/json'} : {})},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      return {status: r.status, body: text ? JSON.parse(text) : null};
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 30000});
}

// A fresh context (own cookies) and page that records every response it receives, body included.
export async function openPage(browser, baseURL) {
  const context = await browser.newContext({baseURL, viewport: {width: 1360, height: 900}});
  // Generous: under ctest -j with sanitizer builds the machine is busy.
  context.setDefaultTimeout(20000);
  const page = await context.newPage();
  const responses = [];
  const pending = new Set();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('response', (r) => {
    const p = (async () => {
      let body = '';
      try { body = (await r.body()).toString('utf8'); } catch { body = ''; }
      responses.push({url: r.url(), status: r.status(), headers: await r.allHeaders().catch(() => ({})), body,
        method: r.request().method()});
    })();
    pending.add(p);
    p.finally(() => pending.delete(p));
  });
  return {
    context, page, responses, consoleErrors,
    // Script errors and CSP violations; failed requests the test provoked are not counted.
    unexpectedConsoleErrors() {
      return consoleErrors.filter((e) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(e));
    },
    async settled() { while (pending.size) await Promise.all([...pending]); },
  };
}

export async function signIn(page, token) {
  await page.goto('/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('navigation', {name: 'Main'}).waitFor();
}

let shotDir = null;
export async function screenshot(page, name) {
  if (!shotDir) {
    shotDir = process.env.TOCSIN_E2E_SCREENSHOTS || mkdtempSync(path.join(tmpdir(), 'tocsin-e2e-shots-'));
    mkdirSync(shotDir, {recursive: true});
    console.log(`# screenshots: ${shotDir}`);
  }
  // A viewport as tall as the page (up to a limit) rather than fullPage: the sticky sidebar then
  // sits where a person sees it. Toasts are transient and left out.
  const size = page.viewportSize();
  const height = await page.evaluate(() => Math.ceil(document.documentElement.scrollHeight));
  const tall = Math.min(height, 3000);
  if (tall > size.height) await page.setViewportSize({width: size.width, height: tall});
  // (Playwright's `style` option injects a <style> element, which the UI's CSP rightly blocks.)
  await page.evaluate(() => document.querySelectorAll('.toasts').forEach((t) => { t.hidden = true; }));
  await page.screenshot({path: path.join(shotDir, `${name}.png`)});
  await page.evaluate(() => document.querySelectorAll('.toasts').forEach((t) => { t.hidden = false; }));
  if (tall > size.height) await page.setViewportSize(size);
}

// Polls `fn` until it returns a truthy value; bounded.
export async function eventually(fn, {timeoutMs = 20000, intervalMs = 100, what = 'condition'} = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// A TCP port on 127.0.0.1 with nothing listening (bound, then closed).
export async function closedPort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A small HTTP server on loopback that is not Mattermost (answers HTML to everything).
export async function startNotMattermost() {
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    res.writeHead(200, {'Content-Type': 'text/html'});
    res.end('<!doctype html><title>Welcome to nginx!</title><h1>Welcome</h1>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => server.close(r))};
}
