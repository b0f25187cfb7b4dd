// Projects, a project's Notification Tools, Deliveries and Findings in a real browser, through
// to posts arriving in the emulator.
import {describe, test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {startEmulator, startTocsin, launchBrowser, openPage, signIn, screenshot,
  eventually} from './lib/harness.mjs';

const TITLE = 'SQL injection in query() <img src=x onerror=alert(1)>';

describe('Projects, deliveries and findings', () => {
  let emu; let tocsin; let browser; let tab;

  before(async () => {
    [emu, tocsin, browser] = await Promise.all([startEmulator(), startTocsin(), launchBrowser()]);
    // Setup through the API: the UI for this is covered by integrations.test.mjs.
    const put = await tocsin.api('PUT', '/integrations/mattermost', {url: emu.url, token: emu.botToken});
    assert.equal(put.status, 200, JSON.stringify(put.body));
    tab = await openPage(browser, tocsin.url);
    await signIn(tab.page, tocsin.adminToken);
  });
  after(async () => {
    const consoleErrors = tab ? tab.unexpectedConsoleErrors() : [];
    await browser?.close();
    await Promise.all([tocsin?.stop(), emu?.stop()]);
    // No script error or CSP violation on any page along the way.
    assert.deepEqual(consoleErrors, []);
  });

  test('create a project, link it: routes, Save, Send test message with a per-channel result, Preview', async () => {
    const {page} = tab;
    await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Projects'}).click();
    await page.getByRole('heading', {level: 1, name: 'Projects'}).waitFor();
    await page.getByLabel('Name', {exact: true}).fill('acme-web');
    await page.getByLabel('Display name').fill('ACME Web shop');
    await page.getByRole('button', {name: 'Create project'}).click();

    await page.getByRole('heading', {level: 1, name: 'ACME Web shop'}).waitFor();
    assert.equal(new URL(page.url()).pathname, '/projects/acme-web/settings/notification-tools');
    assert.equal(await page.getByLabel('Send this project\'s events to Mattermost').isChecked(), true);

    // Route 1: alerts, high and above; route 2: the private channel the bot is not in.
    await page.getByRole('button', {name: 'Add route'}).click();
    const r1 = page.getByRole('group', {name: 'Route 1'});
    await r1.getByLabel('Channel').fill('security/alerts');
    await r1.getByLabel('Minimum severity').selectOption('high');
    await r1.getByLabel('Scans completed').uncheck();
    await page.getByRole('button', {name: 'Add route'}).click();
    const r2 = page.getByRole('group', {name: 'Route 2'});
    await r2.getByLabel('Channel').fill('security/incidents');
    await r2.getByLabel('Minimum severity').selectOption('critical');
    await page.getByRole('button', {name: 'Add threshold'}).click();

    // A bad digest threshold is shown at its field.
    await r1.getByLabel('Digest threshold').fill('0');
    await page.getByRole('button', {name: 'Save', exact: true}).click();
    const digest = r1.getByLabel('Digest threshold');
    await page.waitForFunction((id) => document.getElementById(id)?.getAttribute('aria-invalid') === 'true',
      await digest.getAttribute('id'));
    await r1.getByLabel('Digest threshold').fill('10');
    const saved = page.waitForResponse((r) => r.url().endsWith('/projects/acme-web/integrations/mattermost') && r.request().method() === 'PUT');
    await page.getByRole('button', {name: 'Save', exact: true}).click();
    assert.equal((await saved).status(), 200);
    const link = (await tocsin.api('GET', '/projects/acme-web/integrations/mattermost')).body;
    assert.equal(link.enabled, true);
    assert.deepEqual(link.routes.map((r) => [r.channel, r.min_severity]),
      [['security/alerts', 'high'], ['security/incidents', 'critical']]);
    assert.ok(!link.routes[0].events.includes('scan.completed'));
    assert.deepEqual(link.thresholds, [{severity: 'high', count: 5}]);

    // Send test message: one result per channel.
    await page.getByRole('button', {name: 'Send test message'}).click();
    const results = page.getByRole('list', {name: 'Test message results'});
    await results.waitFor();
    await results.locator('.notice-ok').getByText('security/alerts: Test message posted').waitFor();
    const failed = results.locator('.notice-error');
    assert.match(await failed.textContent(), /security\/incidents/);
    assert.match(await failed.textContent(), /Code: (forbidden|channel_not_found)/);
    const posts = await eventually(async () => {
      const p = await emu.posts(emu.channels['security/alerts']);
      return p.length > 0 && p;
    }, {what: 'the test message in security/alerts'});
    assert.ok(posts.some((p) => JSON.stringify(p).includes('ACME Web shop') || JSON.stringify(p).includes('acme-web')));
    await screenshot(page, 'project-settings');

    // Preview: the post a critical new finding would get, on both routes; nothing is posted.
    const before = (await emu.posts(emu.channels['security/alerts'])).length;
    const previewRegion = page.getByRole('region', {name: 'Preview'});
    await previewRegion.getByLabel('Sample event').selectOption('vulnerability.new');
    await previewRegion.getByLabel('Severity').selectOption('critical');
    await previewRegion.getByRole('button', {name: 'Preview'}).click();
    const preview = page.getByTestId('preview');
    await preview.getByRole('heading', {name: 'Route 1 → security/alerts'}).waitFor();
    await preview.getByRole('heading', {name: 'Route 2 → security/incidents'}).waitFor();
    assert.match(await preview.textContent(), /SQL injection in query\(\)/);
    await previewRegion.getByLabel('Severity').selectOption('medium');
    await previewRegion.getByRole('button', {name: 'Preview'}).click();
    await preview.getByText('No route matches this event').waitFor();
    assert.equal((await emu.posts(emu.channels['security/alerts'])).length, before);
  });

  test('an event reaches Mattermost and Deliveries shows it with a link to the post; a failed one has Retry', async () => {
    const {page} = tab;
    const ev = await tocsin.api('POST', '/events', {
      id: 'e2e-1', type: 'vulnerability.new', project: 'acme-web',
      finding: {fingerprint: 'semgrep:sqli:src/db.js', title: TITLE, severity: 'critical', scanner: 'semgrep',
        cwe: 'CWE-89', location: {path: 'src/db.js', line: 42}},
    });
    assert.equal(ev.status, 202, JSON.stringify(ev.body));
    const post = await eventually(async () => {
      const p = await emu.posts(emu.channels['security/alerts']);
      return p.find((x) => JSON.stringify(x).includes('SQL injection in query()'));
    }, {timeoutMs: 30000, what: 'the finding post in security/alerts'});

    await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Deliveries'}).click();
    await page.getByRole('heading', {level: 1, name: 'Deliveries'}).waitFor();
    // The page refreshes itself: wait for the delivery to show as sent, then its link.
    const sent = page.locator('tr[data-state="sent"]').filter({hasText: 'security/alerts'});
    await sent.first().waitFor({timeout: 30000});
    const href = await sent.first().getByRole('link', {name: /Open the post/}).getAttribute('href');
    assert.ok(href.endsWith(post.id), `${href} links to ${post.id}`);

    // The incidents route cannot be posted to: failed, with the error, a hint and Retry.
    const failedRow = page.locator('tr[data-state="failed"]').filter({hasText: 'security/incidents'}).first();
    await failedRow.waitFor({timeout: 30000});
    assert.ok((await failedRow.locator('.error-cell').textContent()).length > 10);
    assert.match(await failedRow.locator('.error-cell .hint').textContent(), /bot|channel/i);
    await screenshot(page, 'deliveries');

    await page.getByLabel('State').selectOption('failed');
    await eventually(async () => (await page.locator('tr[data-state="sent"]').count()) === 0, {what: 'the filter'});
    assert.equal(new URL(page.url()).searchParams.get('state'), 'failed');
    const retry = page.waitForResponse((r) => /\/deliveries\/\d+\/retry$/.test(r.url()));
    await page.locator('tr[data-state="failed"]').first().getByRole('button', {name: /Retry delivery/}).click();
    assert.equal((await retry).status(), 200);
    await page.getByText(/queued again/).waitFor();
  });

  test('Deliveries pages through the log: 100 a page, Older and Newer', async () => {
    const {page} = tab;
    // A project of its own, so the findings test below sees only acme-web's.
    assert.equal((await tocsin.api('POST', '/projects', {name: 'paging'})).status, 201);
    const link = await tocsin.api('PUT', '/projects/paging/integrations/mattermost',
      {enabled: true, routes: [{channel: 'security/alerts', events: ['vulnerability.new']}]});
    assert.equal(link.status, 200, JSON.stringify(link.body));
    const events = [];
    for (let i = 0; i < 120; i++) {
      events.push({type: 'vulnerability.new', project: 'paging',
        finding: {fingerprint: `paging:${i}`, title: `Paging finding ${i}`, severity: 'low'}});
    }
    const ev = await tocsin.api('POST', '/events', {events});
    assert.equal(ev.status, 202, JSON.stringify(ev.body));
    await page.goto('/deliveries');
    await page.getByRole('heading', {level: 1, name: 'Deliveries'}).waitFor();
    const rows = page.getByTestId('delivery-row');
    const ids = async () => (await rows.locator('td:first-child .mono').allTextContents())
      .map((t) => Number(t.replace('#', '')));
    await eventually(async () => (await rows.count()) === 100, {what: 'a first page of 100'});
    // 120 new findings at once became one digest; its list of them is the newest delivery.
    await page.locator('tr[data-state="sent"]').filter({hasText: 'Digest list'}).first().waitFor({timeout: 30000});
    const first = await ids();
    const pager = page.getByRole('navigation', {name: 'Pages of deliveries'});
    assert.equal(await pager.getByRole('button', {name: 'Newer'}).isDisabled(), true);
    await pager.getByRole('button', {name: 'Older'}).click();
    await pager.getByText('Page 2').waitFor();
    const second = await ids();
    assert.ok(second.length >= 20 && second.length < 100, `the rest: ${second.length}`);
    assert.equal(await pager.getByRole('button', {name: 'Older'}).isDisabled(), true, 'the last page');
    assert.ok(Math.max(...second) < Math.min(...first), 'older deliveries, newest first');
    assert.deepEqual([...second].sort((a, b) => b - a), second);
    await pager.getByRole('button', {name: 'Newer'}).click();
    await pager.getByText('Newest deliveries').waitFor();
    assert.equal((await ids())[0] >= first[0], true, 'back on the newest page');
  });

  test('findings: status, severity, dates; Change status with a comment', async () => {
    const {page} = tab;
    await page.goto('/projects');
    await page.getByRole('link', {name: 'ACME Web shop'}).click();
    await page.getByRole('heading', {level: 1, name: 'ACME Web shop'}).waitFor();
    const row = page.getByTestId('finding-row').filter({hasText: 'SQL injection'});
    await row.waitFor();
    // The scanner's text is shown as text, never as markup.
    assert.equal(await row.locator('img').count(), 0);
    assert.ok((await row.textContent()).includes(TITLE));
    assert.equal(await row.getByTestId('finding-status').textContent(), 'Open');
    assert.match(await row.textContent(), /critical/i);
    await screenshot(page, 'findings');

    await row.getByRole('button', {name: /Change status/}).click();
    const dialog = page.getByRole('dialog', {name: 'Change status'});
    await dialog.getByLabel('New status').selectOption('resolved');
    await dialog.getByLabel('Comment').fill('fixed in #912');
    const patched = page.waitForResponse((r) => /\/api\/v1\/findings\/\d+$/.test(r.url()) && r.request().method() === 'PATCH');
    await dialog.getByRole('button', {name: 'Save'}).click();
    const res = await patched;
    assert.equal(res.status(), 200);
    const id = (await res.json()).id;
    await dialog.waitFor({state: 'detached'});
    await row.getByTestId('finding-status').getByText('Resolved').waitFor();
    assert.equal((await tocsin.api('GET', `/findings/${id}`)).body.status, 'resolved');

    // The status change is announced too, as a reply in the thread of the first post.
    await eventually(async () => {
      const p = await emu.posts(emu.channels['security/alerts']);
      // (Markdown escapes the '#' of the comment in the post.)
      return p.some((x) => x.root_id && JSON.stringify(x).includes('fixed in'));
    }, {timeoutMs: 30000, what: 'the status-change reply'});

    // Filters: resolved shows it, open does not.
    await page.getByLabel('Status', {exact: true}).selectOption('open');
    await page.getByText('No findings match').waitFor();
    await page.getByLabel('Status', {exact: true}).selectOption('resolved');
    await row.waitFor();
  });

  test('a second tab goes on working after signing out and in again in the first', async () => {
    const other = await tab.context.newPage();
    await other.goto('/projects');
    await other.getByRole('heading', {level: 1, name: 'Projects'}).waitFor();
    const {page} = tab;
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByLabel('API token').waitFor();
    await signIn(page, tocsin.adminToken);
    // The other tab still holds the old session's CSRF token; the cookie is the new session's.
    await other.getByRole('button', {name: 'New project'}).click();
    await other.getByLabel('Name', {exact: true}).fill('second-tab');
    await other.getByRole('button', {name: 'Create project'}).click();
    await other.getByRole('heading', {level: 1, name: 'second-tab'}).waitFor();
    assert.equal((await tocsin.api('GET', '/projects/second-tab')).status, 200);
    await other.close();
  });
});
