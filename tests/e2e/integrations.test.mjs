// Integrations › Notification Tools in a real browser: the admin's six steps, every Test
// Connection failure shown with its message and hint, field errors on Save, the drawer as a
// keyboard-usable dialog, the token never coming back, CSRF, security headers, project tokens.
import {describe, test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {startEmulator, startTocsin, launchBrowser, openPage, signIn, screenshot, closedPort,
  startNotMattermost} from './lib/harness.mjs';

describe('Integrations › Notification Tools', () => {
  let emu; let tocsin; let browser; let other; let tab;

  before(async () => {
    [emu, tocsin, browser, other] = await Promise.all([startEmulator(), startTocsin(), launchBrowser(),
      startNotMattermost()]);
    tab = await openPage(browser, tocsin.url);
  });
  after(async () => {
    const consoleErrors = tab ? tab.unexpectedConsoleErrors() : [];
    await browser?.close();
    await Promise.all([tocsin?.stop(), emu?.stop(), other?.stop()]);
    // No script error or CSP violation on any page along the way.
    assert.deepEqual(consoleErrors, []);
  });

  test('the admin activates Mattermost: Integrations, Notification Tools, Activate, Token + URL, Test Connection, Save', async () => {
    const {page} = tab;
    await signIn(page, tocsin.adminToken);
    // 1. Integrations  2. Notification Tools
    await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Integrations'}).click();
    await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Notification Tools'}).click();
    await page.getByRole('heading', {level: 1, name: 'Notification Tools'}).waitFor();
    const card = page.getByRole('article', {name: 'Mattermost'});
    assert.equal(await card.getByTestId('mattermost-state').textContent(), 'Not activated');
    await screenshot(page, 'integrations-inactive');
    // 3. Activate opens a labelled modal dialog
    await card.getByRole('button', {name: 'Activate'}).click();
    const dialog = page.getByRole('dialog', {name: 'Activate Mattermost'});
    await dialog.waitFor();
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    // 4. Token + URL
    await dialog.getByLabel('Access token').fill(emu.botToken);
    await dialog.getByLabel('Mattermost URL').fill(emu.url);
    assert.equal(await dialog.getByLabel('Access token').getAttribute('type'), 'password');
    // 5. Test Connection
    await dialog.getByRole('button', {name: 'Test Connection'}).click();
    const ok = dialog.getByTestId('test-result').locator('.notice-ok');
    await ok.getByText('Connection successful').waitFor();
    assert.match(await ok.textContent(), /@tocsin-bot \(bot\)/);
    await screenshot(page, 'integrations-drawer-success');
    // 6. Save
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations/mattermost') && r.request().method() === 'PUT');
    await dialog.getByRole('button', {name: 'Save'}).click();
    assert.equal((await saved).status(), 200);
    await dialog.waitFor({state: 'detached'});
    await page.getByRole('button', {name: 'Settings'}).waitFor();
    await card.getByTestId('mattermost-state').getByText('Active', {exact: true}).waitFor();
    await card.getByText('Connection successful').waitFor();
    await screenshot(page, 'integrations-active');

    const view = await tocsin.api('GET', '/integrations/mattermost');
    assert.equal(view.body.active, true);
    assert.equal(view.body.status, 'ok');
    assert.equal(view.body.url, emu.url);
  });

  test('Test Connection shows each failure code\'s message and hint in red', async () => {
    const {page} = tab;
    await page.getByRole('button', {name: 'Settings'}).click();
    const dialog = page.getByRole('dialog', {name: 'Mattermost settings'});
    await dialog.waitFor();
    // A token is stored: the field is empty and says so, with the last four characters only.
    assert.equal(await dialog.getByLabel('Access token').inputValue(), '');
    const desc = await dialog.getByText('Leave empty to keep it').textContent();
    assert.ok(desc.includes(`…${emu.botToken.slice(-4)}`), desc);

    const cases = [
      {code: 'token_invalid', url: emu.url, token: 'x'.repeat(26)},
      {code: 'connection_failed', url: `http://127.0.0.1:${await closedPort()}`, token: ''},
      {code: 'not_mattermost', url: other.url, token: ''},
      {code: 'invalid_url', url: 'ftp://chat.example.com', token: ''},
    ];
    for (const c of cases) {
      await dialog.getByLabel('Mattermost URL').fill(c.url);
      await dialog.getByLabel('Access token').fill(c.token);
      const answer = page.waitForResponse((r) => r.url().endsWith('/integrations/mattermost/test'));
      await dialog.getByRole('button', {name: 'Test Connection'}).click();
      const body = await (await answer).json();
      assert.equal(body.ok, false, c.code);
      assert.equal(body.code, c.code, `${c.url}: ${JSON.stringify(body)}`);
      const shown = dialog.getByTestId('test-result').locator('.notice-error');
      await shown.getByText(`Code: ${c.code}`).waitFor();
      const text = await shown.textContent();
      assert.ok(text.includes(body.message), `${c.code}: message shown`);
      assert.ok(body.hint && text.includes(body.hint), `${c.code}: hint shown`);
      if (c.code === 'token_invalid') await screenshot(page, 'integrations-drawer-token-invalid');
    }
    await dialog.getByRole('button', {name: 'Cancel'}).click();
    await dialog.waitFor({state: 'detached'});
    // Testing unsaved values changed nothing.
    const view = await tocsin.api('GET', '/integrations/mattermost');
    assert.equal(view.body.url, emu.url);
  });

  test('Save shows the API\'s field errors at each field', async () => {
    const {page} = tab;
    await page.getByRole('button', {name: 'Settings'}).click();
    const dialog = page.getByRole('dialog', {name: 'Mattermost settings'});
    await dialog.getByLabel('Mattermost URL').fill('chat.example.com');
    await dialog.getByLabel('CA file (optional)').fill('/nonexistent/ca.pem');
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/integrations/mattermost') && r.request().method() === 'PUT');
    await dialog.getByRole('button', {name: 'Save'}).click();
    const res = await answer;
    assert.equal(res.status(), 400);
    const err = (await res.json()).error;
    const byField = Object.fromEntries(err.fields.map((f) => [f.field, f.message]));
    assert.ok(byField.url && byField.ca_file, JSON.stringify(err));
    const url = dialog.getByLabel('Mattermost URL');
    assert.equal(await url.getAttribute('aria-invalid'), 'true');
    assert.equal(await dialog.locator(`#${await url.getAttribute('id')}-error`).textContent(), byField.url);
    const ca = dialog.getByLabel('CA file (optional)');
    assert.equal(await ca.getAttribute('aria-invalid'), 'true');
    assert.equal(await dialog.locator(`#${await ca.getAttribute('id')}-error`).textContent(), byField.ca_file);
    await screenshot(page, 'integrations-drawer-field-errors');
    await page.keyboard.press('Escape');
    await dialog.waitFor({state: 'detached'});
  });

  test('keyboard: the drawer traps focus, Escape closes it and focus returns to the gear', async () => {
    const {page} = tab;
    const gear = page.getByRole('button', {name: 'Settings'});
    await gear.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', {name: 'Mattermost settings'});
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.closest('[role="dialog"]') !== null), true);
    for (let i = 0; i < 15; i++) {
      await page.keyboard.press(i % 4 === 3 ? 'Shift+Tab' : 'Tab');
      assert.equal(await page.evaluate(() => document.activeElement.closest('[role="dialog"]') !== null), true,
        `focus left the dialog after ${i + 1} presses`);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({state: 'detached'});
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Settings');
    // The page behind is usable again.
    assert.equal(await page.evaluate(() => document.getElementById('app').inert), false);
  });

  test('the stored token never appears in the page, the DOM or any response', async () => {
    const {page, responses, settled} = tab;
    for (const p of ['/integrations/notification-tools', '/projects', '/deliveries']) {
      await page.goto(p);
      await page.locator('h1').first().waitFor();
    }
    await page.goto('/integrations/notification-tools');
    await page.getByRole('button', {name: 'Settings'}).click();
    await page.getByRole('dialog').waitFor();
    const html = await page.content();
    assert.ok(!html.includes(emu.botToken), 'token in the DOM');
    const values = await page.evaluate(() => [...document.querySelectorAll('input')].map((i) => i.value).join('\n'));
    assert.ok(!values.includes(emu.botToken), 'token in a form field');
    const text = await page.evaluate(() => document.body.innerText);
    assert.ok(!text.includes(emu.botToken), 'token on the page');
    await settled();
    assert.ok(responses.length > 10, `only ${responses.length} responses recorded`);
    for (const r of responses) {
      assert.ok(!r.body.includes(emu.botToken), `token in the response of ${r.method} ${r.url}`);
      assert.ok(!JSON.stringify(r.headers).includes(emu.botToken), `token in the headers of ${r.url}`);
    }
    await page.keyboard.press('Escape');
  });

  test('a state-changing request with the session cookie but without the CSRF token is refused', async () => {
    const {page} = tab;
    const results = await page.evaluate(async () => {
      const json = {'Content-Type': 'application/json'};
      const bare = await fetch('/api/v1/projects', {method: 'POST', headers: json, body: '{"name":"csrf-probe"}'});
      const wrong = await fetch('/api/v1/projects', {method: 'POST', headers: {...json, 'X-CSRF-Token': 'nope'},
        body: '{"name":"csrf-probe"}'});
      const del = await fetch('/api/v1/integrations/mattermost', {method: 'DELETE'});
      const read = await fetch('/api/v1/projects');
      const session = await (await fetch('/api/v1/session')).json();
      const good = await fetch('/api/v1/projects', {method: 'POST',
        headers: {...json, 'X-CSRF-Token': session.csrf_token}, body: '{"name":"csrf-probe"}'});
      return {bare: [bare.status, (await bare.json()).error.code], wrong: wrong.status, del: del.status,
        read: read.status, good: good.status};
    });
    assert.deepEqual(results.bare, [403, 'csrf_failed']);
    assert.equal(results.wrong, 403);
    assert.equal(results.del, 403);
    assert.equal(results.read, 200);
    assert.equal(results.good, 201);
    // Nothing was deactivated; Bearer requests need no CSRF token.
    assert.equal((await tocsin.api('GET', '/integrations/mattermost')).body.active, true);
    assert.equal((await tocsin.api('DELETE', '/projects/csrf-probe')).status, 204);
  });

  test('the session cookie is HttpOnly and SameSite=Strict; UI responses carry strict headers', async () => {
    const {context} = tab;
    const cookies = await context.cookies();
    const c = cookies.find((x) => x.name === 'tocsin_session');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.path, '/');
    assert.equal(await tab.page.evaluate(() => document.cookie.includes('tocsin_session')), false);

    for (const p of ['/', '/projects/whatever/findings', '/assets/app.css']) {
      const r = await fetch(tocsin.url + p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
      assert.doesNotMatch(r.headers.get('content-security-policy'), /unsafe-inline/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      const etag = r.headers.get('etag');
      assert.ok(etag);
      assert.equal((await fetch(tocsin.url + p, {headers: {'If-None-Match': etag}})).status, 304);
    }
    assert.match((await fetch(`${tocsin.url}/projects/x`)).headers.get('content-type'), /text\/html/);
    assert.equal((await fetch(`${tocsin.url}/assets/missing.js`)).status, 404);
    assert.equal((await fetch(`${tocsin.url}/api/v1/missing`)).status, 404);
  });

  test('a token revoked while posting: the card says Token refused, not the last test\'s success', async () => {
    const {page} = tab;
    const before = (await tocsin.api('GET', '/integrations/mattermost')).body;
    assert.equal(before.status, 'ok');
    assert.equal(before.last_test && before.last_test.ok, true, JSON.stringify(before.last_test));
    assert.equal((await tocsin.api('POST', '/projects', {name: 'revoked'})).status, 201);
    const link = await tocsin.api('PUT', '/projects/revoked/integrations/mattermost',
      {routes: [{channel: 'security/alerts', events: ['scan.completed']}]});
    assert.equal(link.status, 200, JSON.stringify(link.body));
    const revoke = await fetch(`${emu.url}/_emulator/tokens/revoke`, {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token: emu.botToken})});
    assert.equal(revoke.status, 200);
    const event = await tocsin.api('POST', '/events',
      {type: 'scan.completed', project: 'revoked', scan: {scanner: 'semgrep', status: 'succeeded'}});
    assert.equal(event.status, 202, JSON.stringify(event.body));
    let status = '';
    for (let i = 0; i < 100 && status !== 'auth_failed'; i++) {  // bounded: 10 s
      status = (await tocsin.api('GET', '/integrations/mattermost')).body.status;
      if (status !== 'auth_failed') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'auth_failed');
    await page.goto('/integrations/notification-tools');
    const card = page.getByRole('article', {name: 'Mattermost'});
    await card.getByTestId('mattermost-state').getByText('Token refused', {exact: true}).waitFor();
    const text = await card.textContent();
    assert.match(text, /refused the access token \(HTTP 401\) when Tocsin last posted/);
    assert.ok(!text.includes(before.last_test.message), `the old success shown: ${text}`);
    await screenshot(page, 'integrations-token-refused');
  });

  test('sign out ends the session; a project token sees only its project', async () => {
    const {page} = tab;
    await page.goto('/projects');
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByLabel('API token').waitFor();
    assert.equal((await page.evaluate(() => fetch('/api/v1/projects').then((r) => r.status))), 401);

    for (const name of ['alpha', 'beta']) assert.equal((await tocsin.api('POST', '/projects', {name})).status, 201);
    const created = execFileSync(process.env.TOCSIN_BINARY, ['token', 'create', '--data-dir', tocsin.dataDir,
      '--name', 'beta-ci', '--role', 'project:beta'], {encoding: 'utf8'});
    const token = created.match(/tcn_[A-Za-z0-9_-]+/)[0];
    await signIn(page, token);
    await page.getByRole('heading', {level: 1, name: 'beta'}).waitFor();
    const nav = page.getByRole('navigation', {name: 'Main'});
    assert.equal(await nav.getByRole('link', {name: 'Integrations'}).count(), 0);
    await nav.getByRole('link', {name: 'Project'}).click();
    await page.getByRole('heading', {level: 1, name: 'Projects'}).waitFor();
    const rows = page.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), /beta/);
    await page.goto('/integrations/notification-tools');
    await page.getByText('Admins only').waitFor();
  });
});
