// A project's findings: filters, the table, and Change status (PATCH /findings/{id}) with a
// comment, in a dialog.
import {get, patch, enc, qs} from '../api.js';
import {h, field, setFieldError, busy, notice, timeEl, sevBadge, select, toast, clear, extLink,
  SEVERITIES, FINDING_STATUSES} from '../dom.js';
import {openDrawer} from '../drawer.js';
import {projectHeader, loadProject} from './projects.js';

const STATUS_LABEL = Object.fromEntries(FINDING_STATUSES);

export async function renderProjectFindings(ctx) {
  const [name] = ctx.params;
  const project = await loadProject(name);
  const filters = {
    status: ctx.query.get('status') || '',
    min_severity: ctx.query.get('min_severity') || '',
    fingerprint: ctx.query.get('fingerprint') || '',
  };

  const status = field({label: 'Status', input: select([['', 'Any status'], ...FINDING_STATUSES], filters.status)});
  const minSev = field({label: 'Minimum severity', input: select([['', 'Any severity'],
    ...SEVERITIES.map((s) => [s, s[0].toUpperCase() + s.slice(1)])], filters.min_severity)});
  const tableSlot = h('div', {});
  // Filters reload the table in place (focus stays on the control) and keep the URL in step.
  const onFilter = () => {
    filters.status = status.input.value;
    filters.min_severity = minSev.input.value;
    history.replaceState(null, '', `/projects/${enc(name)}/findings${qs(filters)}`);
    items.length = 0;
    cursor = null;
    load(false).catch((err) => tableSlot.replaceChildren(notice('error', err.message, null, err.hint)));
  };
  status.input.addEventListener('change', onFilter);
  minSev.input.addEventListener('change', onFilter);

  const node = h('div', {}, projectHeader(project, 'findings', ['Findings']),
    h('div', {class: 'toolbar', role: 'search', 'aria-label': 'Filter findings'}, status.wrap, minSev.wrap,
      filters.fingerprint ? h('p', {class: 'small muted'}, 'Showing the finding with fingerprint ',
        h('code', {}, filters.fingerprint), ' · ', h('a', {href: `/projects/${enc(name)}/findings`}, 'show all')) : null),
    tableSlot);

  const items = [];
  let cursor = null;
  async function load(more) {
    const r = await get(`/projects/${enc(name)}/findings${qs({...filters, limit: 100, cursor: more ? cursor : ''})}`);
    items.push(...(r.items || []));
    cursor = r.next_cursor;
    draw();
  }
  function draw() {
    clear(tableSlot);
    if (items.length === 0) {
      tableSlot.append(h('div', {class: 'card empty'}, 'No findings match. Findings arrive with events and scan uploads.'));
      return;
    }
    const rows = items.map((f) => findingRow(f, async (updated) => {
      const i = items.findIndex((x) => x.id === updated.id);
      if (i >= 0) items[i] = updated;
      draw();
      const btn = tableSlot.querySelector(`button[data-finding="${CSS.escape(String(updated.id))}"]`);
      if (btn) btn.focus();
    }));
    tableSlot.append(h('div', {class: 'card table-wrap'},
      h('table', {},
        h('caption', {class: 'sr-only'}, `Findings of ${project.name}`),
        h('thead', {}, h('tr', {},
          ['Severity', 'Finding', 'Status', 'First seen', 'Last seen'].map((t) => h('th', {scope: 'col'}, t)),
          h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')))),
        h('tbody', {}, rows))));
    if (cursor) {
      const more = h('button', {type: 'button', class: 'btn section'}, 'Load more');
      more.addEventListener('click', () => busy(more, () => load(true)));
      tableSlot.append(h('div', {class: 'row'}, more));
    }
  }
  await load(false);
  return {node, title: `Findings · ${project.name}`};
}

function location(f) {
  const loc = f.location || {};
  let s = loc.path || '';
  if (s && loc.line) s += `:${loc.line}`;
  if (loc.component) s += s ? ` · ${loc.component}` : loc.component;
  return s;
}

function findingRow(f, onUpdated) {
  const ids = [f.rule_id, f.cwe, f.cve].filter(Boolean).join(' · ');
  const btn = h('button', {type: 'button', class: 'btn btn-small', 'data-finding': String(f.id),
    'aria-haspopup': 'dialog', 'aria-label': `Change status of ${f.title || f.fingerprint}`}, 'Change status');
  btn.addEventListener('click', () => openStatusDialog(f, onUpdated));
  return h('tr', {'data-testid': 'finding-row'},
    h('td', {}, sevBadge(f.severity)),
    h('td', {},
      h('div', {}, f.link ? extLink(f.link, f.title || f.fingerprint) : (f.title || f.fingerprint)),
      location(f) ? h('div', {class: 'sub mono'}, location(f)) : null,
      ids || f.scanner ? h('div', {class: 'sub'}, [f.scanner, ids].filter(Boolean).join(' · ')) : null),
    h('td', {class: 'nowrap'}, h('span', {class: `pill ${f.status === 'open' ? 'pill-warn' : f.status === 'resolved' ? 'pill-ok' : ''}`,
      'data-testid': 'finding-status'}, STATUS_LABEL[f.status] || f.status)),
    h('td', {class: 'nowrap'}, timeEl(f.first_seen)),
    h('td', {class: 'nowrap'}, timeEl(f.last_seen)),
    h('td', {class: 'nowrap'}, btn));
}

function openStatusDialog(f, onUpdated) {
  const status = field({label: 'New status', input: select(FINDING_STATUSES, f.status)});
  const comment = field({label: 'Comment', input: h('textarea', {maxlength: '4000', rows: '4'}),
    desc: 'Optional; shown with the status change in Mattermost. At most 4000 characters.'});
  const formError = h('div', {role: 'alert'});
  const save = h('button', {type: 'submit', class: 'btn btn-primary', form: 'status-form'}, 'Save');
  const cancel = h('button', {type: 'button', class: 'btn btn-ghost'}, 'Cancel');
  const form = h('form', {id: 'status-form', class: 'stack', novalidate: true},
    h('div', {class: 'row'}, sevBadge(f.severity), h('strong', {}, f.title || f.fingerprint)),
    h('p', {class: 'small muted'}, 'Current status: ', STATUS_LABEL[f.status] || f.status),
    status.wrap, comment.wrap, formError);
  const drawer = openDrawer({title: 'Change status', body: form, footer: [save, cancel], initialFocus: status.input});
  cancel.addEventListener('click', () => drawer.close());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(save, async () => {
      setFieldError(status, '');
      setFieldError(comment, '');
      formError.replaceChildren();
      const body = {status: status.input.value};
      if (comment.input.value.trim()) body.comment = comment.input.value.trim();
      try {
        const updated = await patch(`/findings/${enc(f.id)}`, body);
        drawer.close();
        toast(`Status changed to ${STATUS_LABEL[updated.status] || updated.status}`);
        onUpdated(updated);
      } catch (err) {
        const target = err.field === '/comment' ? comment : err.field === '/status' ? status : null;
        if (target) setFieldError(target, err.message);
        else formError.append(notice('error', err.message, null, err.hint));
      }
    });
  });
}
