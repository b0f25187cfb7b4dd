// Project › Settings › Notification Tools: the project's Mattermost link (enabled, routes,
// thresholds), Send test message, and a preview of the post a sample event would produce.
import {get, put, post, enc} from '../api.js';
import {h, field, setFieldError, busy, notice, icon, toast, select, uid, clear,
  SEVERITIES, EVENT_TYPES} from '../dom.js';
import {projectHeader, loadProject} from './projects.js';
import {renderPost} from './post_preview.js';

const SEVERITY_OPTIONS = SEVERITIES.map((s) => [s, s[0].toUpperCase() + s.slice(1)]);

export async function renderProjectSettings(ctx) {
  const [name] = ctx.params;
  const project = await loadProject(name);
  const base = `/projects/${enc(name)}/integrations/mattermost`;
  const link = await get(base);
  let tool = null;
  if (ctx.me.role === 'admin') {
    try { tool = await get('/integrations/mattermost'); } catch { tool = null; }
  }

  const node = h('div', {}, projectHeader(project, 'settings', ['Settings', 'Notification Tools']));
  if (tool && !tool.active) {
    node.append(h('div', {class: 'section'}, notice('warn', 'Mattermost is not activated',
      'Routes are saved, but nothing is posted until the Mattermost tool is activated.',
      'Activate it under Integrations › Notification Tools.')));
  }

  // --- The link form -------------------------------------------------------------------------
  // A project never linked answers enabled: false with no routes; linking it means turning it on.
  const enabled = h('input', {type: 'checkbox', id: 'link-enabled', checked: link.enabled || (link.routes || []).length === 0});
  const routesBox = h('div', {class: 'stack'});
  const thresholdsBox = h('div', {class: 'stack'});
  const formError = h('div', {role: 'alert'});
  const routes = [];
  const thresholds = [];

  function renumber() {
    routes.forEach((r, i) => r.setIndex(i));
    thresholds.forEach((t, i) => t.setIndex(i));
    emptyRoutes.hidden = routes.length > 0;
    emptyThresholds.hidden = thresholds.length > 0;
  }
  function addRoute(route, focus) {
    const r = routeEditor(route, () => {
      routes.splice(routes.indexOf(r), 1);
      r.el.remove();
      renumber();
      markDirty();
      addRouteBtn.focus();
    });
    routes.push(r);
    routesBox.append(r.el);
    renumber();
    if (focus) r.channel.input.focus();
  }
  function addThreshold(t, focus) {
    const row = thresholdEditor(t, () => {
      thresholds.splice(thresholds.indexOf(row), 1);
      row.el.remove();
      renumber();
      markDirty();
      addThresholdBtn.focus();
    });
    thresholds.push(row);
    thresholdsBox.append(row.el);
    renumber();
    if (focus) row.severity.focus();
  }

  const emptyRoutes = h('p', {class: 'muted'}, 'No routes yet: add one to choose a channel and the events it gets.');
  const emptyThresholds = h('p', {class: 'muted small'}, 'No thresholds. A threshold announces when the open findings at or above a severity reach a count, and when they fall back below it.');
  const addRouteBtn = h('button', {type: 'button', class: 'btn'}, icon('plus'), 'Add route');
  addRouteBtn.addEventListener('click', () => { addRoute(null, true); markDirty(); });
  const addThresholdBtn = h('button', {type: 'button', class: 'btn'}, icon('plus'), 'Add threshold');
  addThresholdBtn.addEventListener('click', () => { addThreshold(null, true); markDirty(); });

  const saveBtn = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Save');
  const testBtn = h('button', {type: 'button', class: 'btn'}, icon('send'), 'Send test message');
  const dirtyNote = h('span', {class: 'small muted', hidden: true}, 'Unsaved changes');
  const testResults = h('div', {role: 'status', 'aria-live': 'polite', 'data-testid': 'test-results'});
  let dirty = false;
  function markDirty() { dirty = true; dirtyNote.hidden = false; }

  const form = h('form', {class: 'stack', novalidate: true, 'aria-label': 'Mattermost settings of this project'},
    h('section', {class: 'card card-pad stack', 'aria-labelledby': 'link-title'},
      h('h2', {id: 'link-title'}, 'Mattermost'),
      h('label', {class: 'check', for: 'link-enabled'}, enabled,
        h('span', {}, 'Send this project\'s events to Mattermost',
          h('span', {class: 'desc'}, 'Turn off to pause the project without losing its routes.')))),
    h('section', {class: 'card card-pad stack', 'aria-labelledby': 'routes-title'},
      h('div', {class: 'section-head'},
        h('div', {},
          h('h2', {id: 'routes-title'}, 'Routes'),
          h('p', {class: 'small muted'}, 'Each route sends the events it names to one channel, e.g. criticals to #security-alerts and scan summaries to #security-scans.')),
        addRouteBtn),
      emptyRoutes, routesBox),
    h('section', {class: 'card card-pad stack', 'aria-labelledby': 'thresholds-title'},
      h('div', {class: 'section-head'},
        h('h2', {id: 'thresholds-title'}, 'Thresholds'),
        addThresholdBtn),
      emptyThresholds, thresholdsBox),
    formError,
    h('div', {class: 'row'}, saveBtn, testBtn, dirtyNote),
    testResults);
  form.addEventListener('input', markDirty);
  form.addEventListener('change', markDirty);

  for (const r of link.routes || []) addRoute(r, false);
  for (const t of link.thresholds || []) addThreshold(t, false);
  dirty = false;
  dirtyNote.hidden = true;

  function clearErrors() {
    formError.replaceChildren();
    routes.forEach((r) => r.clearErrors());
    thresholds.forEach((t) => t.clearErrors());
  }
  // "/routes/0/channel" → that route's channel field; anything else → the banner.
  function showError(err) {
    const m = String(err.field || '').match(/^\/(routes|thresholds)\/(\d+)(?:\/([a-z_]+))?/);
    const list = m ? (m[1] === 'routes' ? routes : thresholds) : null;
    const target = list && list[Number(m[2])];
    if (target && target.setError(m[3], err.message)) return;
    formError.append(notice('error', err.message, null, err.hint));
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(saveBtn, async () => {
      clearErrors();
      testResults.replaceChildren();
      const body = {
        enabled: enabled.checked,
        routes: routes.map((r) => r.read()),
        thresholds: thresholds.map((t) => t.read()),
      };
      try {
        await put(base, body);
      } catch (err) {
        showError(err);
        return;
      }
      dirty = false;
      dirtyNote.hidden = true;
      toast('Notification settings saved');
    });
  });

  testBtn.addEventListener('click', () => busy(testBtn, async () => {
    testResults.replaceChildren(h('p', {class: 'muted small'}, 'Posting a test message to each channel…'));
    try {
      const r = await post(`${base}/test`, {});
      const items = (r.results || []).map((x) => h('li', {},
        x.ok
          ? notice('ok', `${x.channel}: ${x.message || 'Test message posted'}`)
          : notice('error', `${x.channel}: ${x.message || x.code}`, `Code: ${x.code}`, x.hint)));
      testResults.replaceChildren(...[
        dirty ? h('p', {class: 'small muted'}, 'The test used the saved routes; your unsaved changes were not included.') : null,
        h('ul', {class: 'results', 'aria-label': 'Test message results'}, items)].filter(Boolean));
    } catch (err) {
      testResults.replaceChildren(notice('error', err.message, null, err.hint));
    }
  }));

  node.append(form);
  node.append(previewSection(base));
  return {node, title: `Notification Tools · ${project.name}`};
}

function routeEditor(route, onRemove) {
  const r = route || {};
  const id = uid('route');
  const legend = h('h3', {id: `${id}-title`});
  const channel = field({label: 'Channel', input: h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'team-name/channel-name', value: r.channel || ''}),
  desc: 'team-name/channel-name, or a channel id. Add the bot to the channel first.'});
  const wanted = new Set(r.events || EVENT_TYPES.map(([t]) => t));
  const eventBoxes = EVENT_TYPES.map(([type, label]) => {
    const boxId = uid('ev');
    const box = h('input', {type: 'checkbox', id: boxId, value: type, checked: wanted.has(type)});
    return {type, box, el: h('label', {class: 'check', for: boxId}, box, h('span', {}, label, h('span', {class: 'desc mono'}, type)))};
  });
  const eventsErr = h('p', {class: 'field-error', id: `${id}-events-error`});
  const events = h('fieldset', {'aria-describedby': `${id}-events-error`},
    h('legend', {}, 'Events'), h('div', {class: 'checks'}, eventBoxes.map((b) => b.el)), eventsErr);
  const minSev = field({label: 'Minimum severity', input: select(SEVERITY_OPTIONS, r.min_severity || 'info'),
    desc: 'For vulnerability events.'});
  const digest = field({label: 'Digest threshold', input: h('input', {type: 'number', min: '1', max: '1000',
    value: String(r.digest_threshold ?? 10)}), desc: 'More new findings than this in one burst (a scan, or a few seconds of events): one digest post.'});
  const baseline = field({label: 'Baseline', input: select([['summary', 'Summary post'], ['full', 'Every finding']], r.baseline || 'summary'),
    desc: 'What the first scan of a project posts.'});
  const remove = h('button', {type: 'button', class: 'btn btn-danger btn-small'}, icon('trash'), 'Remove route');
  remove.addEventListener('click', onRemove);
  const el = h('fieldset', {class: 'route', 'aria-labelledby': `${id}-title`},
    h('div', {class: 'route-head'}, legend, remove),
    channel.wrap, events,
    h('div', {class: 'grid-3'}, minSev.wrap, digest.wrap, baseline.wrap));
  const errorTargets = {channel, min_severity: minSev, digest_threshold: digest, baseline};
  return {
    el, channel,
    setIndex(i) {
      legend.textContent = `Route ${i + 1}`;
      remove.setAttribute('aria-label', `Remove route ${i + 1}`);
    },
    read() {
      const out = {
        channel: channel.input.value.trim(),
        events: eventBoxes.filter((b) => b.box.checked).map((b) => b.type),
        min_severity: minSev.input.value,
        baseline: baseline.input.value,
      };
      const n = Number(digest.input.value);
      out.digest_threshold = digest.input.value.trim() === '' || !Number.isFinite(n) ? digest.input.value : n;
      return out;
    },
    clearErrors() {
      Object.values(errorTargets).forEach((f) => setFieldError(f, ''));
      eventsErr.textContent = '';
    },
    setError(name, message) {
      if (name === 'events') {
        eventsErr.textContent = message;
        eventBoxes[0].box.focus();
        return true;
      }
      const f = errorTargets[name || 'channel'];
      if (!f) return false;
      setFieldError(f, message);
      f.input.focus();
      return true;
    },
  };
}

function thresholdEditor(t, onRemove) {
  const v = t || {};
  const severity = field({label: 'Severity', input: select(SEVERITY_OPTIONS, v.severity || 'high')});
  const count = field({label: 'Open findings at or above it', input: h('input', {type: 'number', min: '1',
    value: String(v.count ?? 5)})});
  const remove = h('button', {type: 'button', class: 'btn btn-danger btn-small'}, icon('trash'), 'Remove');
  remove.addEventListener('click', onRemove);
  const el = h('div', {class: 'threshold-row'}, severity.wrap, count.wrap, remove);
  return {
    el, severity: severity.input,
    setIndex(i) { remove.setAttribute('aria-label', `Remove threshold ${i + 1}`); },
    read() {
      const n = Number(count.input.value);
      return {severity: severity.input.value, count: Number.isFinite(n) && count.input.value.trim() !== '' ? n : count.input.value};
    },
    clearErrors() { setFieldError(severity, ''); setFieldError(count, ''); },
    setError(name, message) {
      const f = name === 'severity' ? severity : count;
      setFieldError(f, message);
      f.input.focus();
      return true;
    },
  };
}

// Sample events for the preview; the finding texts are made up.
const SAMPLES = {
  'vulnerability.new': (sev) => ({
    type: 'vulnerability.new',
    finding: {
      fingerprint: 'preview:sqli:src/db.js', title: 'SQL injection in query()', severity: sev,
      scanner: 'semgrep', rule_id: 'javascript.sql-injection', cwe: 'CWE-89',
      location: {path: 'src/db.js', line: 42},
      description: 'User input reaches a SQL query without parameters.',
    },
  }),
  'vulnerability.status_changed': (sev) => ({
    type: 'vulnerability.status_changed', status: 'resolved', comment: 'fixed in #912',
    finding: {fingerprint: 'preview:sqli:src/db.js', title: 'SQL injection in query()', severity: sev},
  }),
  'vulnerability.threshold_crossed': (sev) => ({
    type: 'vulnerability.threshold_crossed', severity: sev, threshold: 3, count: 3, direction: 'above',
  }),
  'scan.completed': () => ({
    type: 'scan.completed',
    scan: {scanner: 'semgrep', branch: 'main', status: 'succeeded',
      counts: {critical: 1, high: 4, medium: 0, low: 2, info: 0}},
  }),
};

const SAMPLE_LABELS = [
  ['vulnerability.new', 'New vulnerability'],
  ['vulnerability.status_changed', 'Status change (resolved)'],
  ['vulnerability.threshold_crossed', 'Threshold crossed'],
  ['scan.completed', 'Scan completed'],
];

function previewSection(base) {
  const type = field({label: 'Sample event', input: select(SAMPLE_LABELS, 'vulnerability.new')});
  const sev = field({label: 'Severity', input: select(SEVERITY_OPTIONS, 'critical')});
  const btn = h('button', {type: 'button', class: 'btn'}, icon('eye'), 'Preview');
  const out = h('div', {class: 'stack', role: 'status', 'aria-live': 'polite', 'data-testid': 'preview'});
  btn.addEventListener('click', () => busy(btn, async () => {
    const event = SAMPLES[type.input.value](sev.input.value);
    try {
      const r = await post(`${base}/preview`, event);
      clear(out);
      if (!r.enabled) out.append(notice('warn', 'Notifications are turned off for this project', 'Nothing would be posted.'));
      if (!r.matches || r.matches.length === 0) {
        out.append(notice('warn', 'No route matches this event', 'Check the routes\' events and minimum severity (saved settings).'));
        return;
      }
      for (const m of r.matches) {
        out.append(h('div', {class: 'stack'},
          h('h3', {}, `Route ${Number(m.route) + 1} → ${m.channel}`),
          renderPost(m.post)));
      }
    } catch (err) {
      out.replaceChildren(notice('error', err.message, null, err.hint));
    }
  }));
  return h('section', {class: 'card card-pad stack section', 'aria-labelledby': 'preview-title'},
    h('div', {},
      h('h2', {id: 'preview-title'}, 'Preview'),
      h('p', {class: 'small muted'}, 'Which saved routes a sample event matches and the exact post each channel would get. Nothing is posted.')),
    h('div', {class: 'grid-3'}, type.wrap, sev.wrap, h('div', {class: 'field'}, h('span', {class: 'label', 'aria-hidden': 'true'}, '\u00a0'), btn)),
    out);
}
