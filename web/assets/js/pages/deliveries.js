// Deliveries: the delivery log with state, attempts, last error (+ a hint), a link to the post,
// Retry for failed/dead ones; filters by state and project; pages of 100, newest first, with
// Older / Newer; the page shown refreshes every 5 s while visible.
import {get, post, enc, qs} from '../api.js';
import {h, field, busy, notice, timeEl, select, toast, clear, icon, extLink} from '../dom.js';

const REFRESH_MS = 5000;
const PAGE = 100;
const STATES = [['', 'Any state'], ['pending', 'Pending'], ['sending', 'Sending'], ['sent', 'Sent'],
  ['failed', 'Failed'], ['dead', 'Dead']];
const STATE_PILL = {sent: 'pill-ok', failed: 'pill-error', dead: 'pill-error', pending: 'pill-info', sending: 'pill-info'};
const EVENT_LABEL = {
  'vulnerability.new': 'New vulnerability',
  'vulnerability.status_changed': 'Status change',
  'vulnerability.threshold_crossed': 'Threshold crossed',
  'scan.completed': 'Scan completed',
};

// The event column: what the post is about. A digest's list of findings (its thread replies) is
// a delivery of its own, kind "replies".
function eventCell(d) {
  if (d.kind === 'replies') return ['Digest list', h('div', {class: 'sub'}, 'the findings, as thread replies')];
  return [EVENT_LABEL[d.event_type] || d.event_type, d.kind && d.kind !== 'event' ? h('div', {class: 'sub'}, d.kind) : null];
}

// What to do about a delivery's last error, by its stable code (mattermost::Classify reasons).
function hintFor(code) {
  if (!code) return '';
  if (code === 'forbidden') return 'Add the bot to this channel (or its team), then retry.';
  if (code === 'not_found' || code === 'channel_not_found') return 'Check the route\'s channel: it does not exist or the bot cannot see it.';
  if (code === 'channel_archived') return 'The channel is archived: pick another channel in the project\'s routes.';
  if (code === 'unauthorized' || code === 'token_invalid' || code === 'auth_failed') return 'Mattermost refused the token: replace it under Integrations › Notification Tools.';
  if (code.startsWith('net_tls') || code === 'tls_error') return 'TLS verification failed: give the CA file or fix the certificate (Integrations › Notification Tools).';
  if (code.startsWith('net_')) return 'Mattermost could not be reached; Tocsin keeps retrying with backoff.';
  if (code === 'server_error') return 'Mattermost answered with a server error; Tocsin keeps retrying.';
  if (code === 'expired') return 'Gave up after the delivery TTL. Retry sends it again.';
  if (code === 'message_too_long' || code === 'props_too_large') return 'The post was too long for this server.';
  return '';
}

export async function renderDeliveries(ctx) {
  const admin = ctx.me.role === 'admin';
  const filters = {state: ctx.query.get('state') || '', project: ctx.query.get('project') || ''};
  const stateSel = field({label: 'State', input: select(STATES, filters.state)});
  let projectOptions = [['', 'All projects']];
  if (admin) {
    const ps = await get('/projects?limit=500');
    projectOptions = projectOptions.concat((ps.items || []).map((p) => [p.name, p.name]));
  }
  if (filters.project && !projectOptions.some(([v]) => v === filters.project)) projectOptions.push([filters.project, filters.project]);
  const projectSel = field({label: 'Project', input: select(projectOptions, filters.project)});
  const refreshBtn = h('button', {type: 'button', class: 'btn'}, icon('refresh'), 'Refresh');
  const updated = h('span', {class: 'refresh-state', 'aria-live': 'off'});
  const tableSlot = h('div', {});
  const node = h('div', {},
    h('div', {class: 'page-head'},
      h('div', {},
        h('h1', {}, 'Deliveries'),
        h('p', {class: 'sub-title'}, 'Every post Tocsin sends or tries to send, newest first.'))),
    h('div', {class: 'toolbar', role: 'search', 'aria-label': 'Filter deliveries'},
      stateSel.wrap, admin ? projectSel.wrap : null, refreshBtn, updated),
    tableSlot);

  let timer = null;
  let stopped = false;
  let inFlight = false;
  // Paging by the API's cursor (ids below it): `cursor` is the page shown ('' = the newest),
  // `newer` the cursors of the pages before it, for Newer.
  let cursor = '';
  let newer = [];
  let next = null;
  async function load() {
    if (inFlight) return;
    inFlight = true;
    try {
      const r = await get(`/deliveries${qs({...filters, limit: PAGE, cursor})}`);
      if (stopped) return;
      next = r.next_cursor || null;
      draw(r.items || []);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every 5 s`;
    } catch (err) {
      if (!stopped) tableSlot.replaceChildren(notice('error', err.message, null, err.hint));
    } finally {
      inFlight = false;
    }
  }
  function schedule() {
    clearTimeout(timer);
    if (stopped || document.hidden) return;
    timer = setTimeout(async () => { await load(); schedule(); }, REFRESH_MS);
  }
  function onVisibility() {
    if (document.hidden) {
      clearTimeout(timer);
      updated.textContent = 'Paused while the page is hidden';
    } else {
      load().then(schedule);
    }
  }
  document.addEventListener('visibilitychange', onVisibility);
  ctx.setCleanup(() => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  });

  const onFilter = () => {
    filters.state = stateSel.input.value;
    filters.project = projectSel.input.value;
    cursor = '';
    newer = [];
    history.replaceState(null, '', `/deliveries${qs(filters)}`);
    load().then(schedule);
  };
  stateSel.input.addEventListener('change', onFilter);
  projectSel.input.addEventListener('change', onFilter);
  refreshBtn.addEventListener('click', () => busy(refreshBtn, load));

  function draw(items) {
    // Keep focus on a Retry button's row across redraws, if it had it.
    const focused = document.activeElement && tableSlot.contains(document.activeElement)
      ? document.activeElement.getAttribute('data-delivery') : null;
    clear(tableSlot);
    if (items.length === 0 && !cursor) {
      tableSlot.append(h('div', {class: 'card empty'}, 'No deliveries match. They appear when events reach a linked project.'));
      return;
    }
    const rows = items.map((d) => row(d, async (btn) => {
      await busy(btn, async () => {
        try {
          await post(`/deliveries/${enc(d.id)}/retry`, {});
          toast(`Delivery ${d.id} queued again`);
        } catch (err) {
          toast(`Retry failed: ${err.message}`);
        }
      });
      await load();
    }));
    tableSlot.append(h('div', {class: 'card table-wrap'},
      h('table', {'data-testid': 'deliveries'},
        h('caption', {class: 'sr-only'}, 'Deliveries'),
        h('thead', {}, h('tr', {},
          ['Delivery', 'Channel', 'Event', 'State', 'Last error', 'Post'].map((t) => h('th', {scope: 'col'}, t)),
          h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')))),
        h('tbody', {}, rows))));
    tableSlot.append(pager());
    if (focused) {
      const again = tableSlot.querySelector(`[data-delivery="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  // Newer / Older under the table; the page moved to is loaded at once and then refreshed.
  function pager() {
    const go = (btn, to, stack) => busy(btn, async () => {
      cursor = to;
      newer = stack;
      await load();
      schedule();
    });
    const newerBtn = h('button', {type: 'button', class: 'btn', 'data-testid': 'deliveries-newer'}, 'Newer');
    const olderBtn = h('button', {type: 'button', class: 'btn', 'data-testid': 'deliveries-older'}, 'Older');
    newerBtn.disabled = newer.length === 0;
    olderBtn.disabled = !next;
    newerBtn.addEventListener('click', () => go(newerBtn, newer[newer.length - 1], newer.slice(0, -1)));
    olderBtn.addEventListener('click', () => go(olderBtn, next, [...newer, cursor]));
    const where = newer.length === 0 ? 'Newest deliveries' : `Page ${newer.length + 1}`;
    return h('nav', {class: 'row pager', 'aria-label': 'Pages of deliveries'},
      newerBtn, h('span', {class: 'small muted', 'aria-live': 'polite'}, where), olderBtn);
  }

  await load();
  schedule();
  return {node, title: 'Deliveries'};
}

function row(d, onRetry) {
  const hint = hintFor(d.last_error_code);
  let retry = null;
  if (d.state === 'failed' || d.state === 'dead') {
    retry = h('button', {type: 'button', class: 'btn btn-small', 'data-delivery': String(d.id),
      'aria-label': `Retry delivery ${d.id}`}, 'Retry');
    retry.addEventListener('click', () => onRetry(retry));
  }
  return h('tr', {'data-testid': 'delivery-row', 'data-state': d.state},
    h('td', {class: 'nowrap'}, h('div', {class: 'mono'}, `#${d.id}`), h('div', {class: 'sub'}, timeEl(d.created_at))),
    h('td', {}, h('div', {class: 'mono'}, d.channel),
      h('div', {class: 'sub'}, h('a', {href: `/projects/${enc(d.project)}/findings`}, d.project))),
    h('td', {}, eventCell(d)),
    h('td', {class: 'nowrap'}, h('span', {class: `pill ${STATE_PILL[d.state] || ''}`}, d.state),
      h('div', {class: 'sub'}, `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`)),
    h('td', {class: 'error-cell'},
      d.last_error ? [h('div', {}, d.last_error), d.last_error_code ? h('div', {class: 'sub mono'}, d.last_error_code) : null,
        hint ? h('div', {class: 'hint'}, hint) : null] : h('span', {class: 'muted'}, '—')),
    h('td', {class: 'nowrap'}, d.post_url ? extLink(d.post_url, 'Open post', {'aria-label': `Open the post of delivery ${d.id} in Mattermost`})
      : (d.post_id ? h('span', {class: 'mono small'}, d.post_id) : h('span', {class: 'muted'}, '—'))),
    h('td', {class: 'nowrap'}, retry));
}
