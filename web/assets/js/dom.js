// DOM helpers. Every piece of text goes in through text nodes or attributes set by name, never
// as HTML, so whatever a server, a scanner or an API caller wrote cannot become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

// h('button', {class: 'btn', onclick: fn, 'aria-label': 'Close'}, 'text', childNode, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      el[key] = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let nextId = 0;
export function uid(prefix = 'id') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// Icons: a few 24x24 stroke paths, drawn with createElementNS (no markup strings).
const ICONS = {
  gear: ['M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z',
    'M19.4 15a1.65 1.65 0 0 0 .33 1.82l.06.06a2 2 0 1 1-2.83 2.83l-.06-.06a1.65 1.65 0 0 0-1.82-.33 1.65 1.65 0 0 0-1 1.51V21a2 2 0 1 1-4 0v-.09A1.65 1.65 0 0 0 9 19.4a1.65 1.65 0 0 0-1.82.33l-.06.06a2 2 0 1 1-2.83-2.83l.06-.06A1.65 1.65 0 0 0 4.68 15a1.65 1.65 0 0 0-1.51-1H3a2 2 0 1 1 0-4h.09A1.65 1.65 0 0 0 4.6 9a1.65 1.65 0 0 0-.33-1.82l-.06-.06a2 2 0 1 1 2.83-2.83l.06.06A1.65 1.65 0 0 0 9 4.68a1.65 1.65 0 0 0 1-1.51V3a2 2 0 1 1 4 0v.09a1.65 1.65 0 0 0 1 1.51 1.65 1.65 0 0 0 1.82-.33l.06-.06a2 2 0 1 1 2.83 2.83l-.06.06A1.65 1.65 0 0 0 19.4 9a1.65 1.65 0 0 0 1.51 1H21a2 2 0 1 1 0 4h-.09a1.65 1.65 0 0 0-1.51 1z'],
  close: ['M18 6 6 18', 'M6 6l12 12'],
  plus: ['M12 5v14', 'M5 12h14'],
  trash: ['M3 6h18', 'M8 6V4h8v2', 'M19 6l-1 14H6L5 6'],
  refresh: ['M21 12a9 9 0 1 1-3-6.7L21 8', 'M21 3v5h-5'],
  external: ['M15 3h6v6', 'M10 14 21 3', 'M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6'],
  check: ['M22 11.1V12a10 10 0 1 1-5.9-9.1', 'M22 4 12 14l-3-3'],
  alert: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z', 'M12 8v4', 'M12 16h.01'],
  plug: ['M9 2v6', 'M15 2v6', 'M6 8h12v4a6 6 0 0 1-12 0z', 'M12 18v4'],
  folder: ['M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z'],
  send: ['M22 2 11 13', 'M22 2 15 22l-4-9-9-4z'],
  bell: ['M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9', 'M13.7 21a2 2 0 0 1-3.4 0'],
  eye: ['M1 12s4-8 11-8 11 8 11 8-4 8-11 8S1 12 1 12z', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z'],
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

// The Tocsin mark (a bell) and the Mattermost mark, both as DOM nodes.
export function logo(kind, cls) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  if (cls) svg.setAttribute('class', cls);
  const add = (tag, attrs) => {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.append(el);
  };
  if (kind === 'mattermost') {
    add('rect', {width: '32', height: '32', rx: '8', fill: '#1e325c'});
    add('circle', {cx: '16', cy: '16', r: '9', fill: 'none', stroke: '#fff', 'stroke-width': '2.4'});
    add('path', {d: 'M19.5 9.5l-1 6.3a2.6 2.6 0 1 1-5.1-.9l3.9-5.2z', fill: '#fff'});
  } else {
    add('rect', {width: '32', height: '32', rx: '7', fill: '#f5b841'});
    add('path', {d: 'M16 6c-4 0-7 3-7 7v5l-2 3v1h18v-1l-2-3v-5c0-4-3-7-7-7z', fill: '#16263b'});
    add('circle', {cx: '16', cy: '25', r: '2.5', fill: '#16263b'});
  }
  return svg;
}

const dateFmt = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
const relFmt = new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'});

// A <time> showing "3 minutes ago" with the exact time as its title.
export function timeEl(iso) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(iso));
  return h('time', {datetime: iso, title: dateFmt.format(d)}, relative(d));
}

export function relative(d) {
  const s = Math.round((d.getTime() - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return relFmt.format(s, 'second');
  if (abs < 45 * 60) return relFmt.format(Math.round(s / 60), 'minute');
  if (abs < 22 * 3600) return relFmt.format(Math.round(s / 3600), 'hour');
  if (abs < 26 * 86400) return relFmt.format(Math.round(s / 86400), 'day');
  return dateFmt.format(d);
}

export function sevBadge(severity) {
  const s = String(severity || 'info');
  return h('span', {class: `sev sev-${/^(critical|high|medium|low|info)$/.test(s) ? s : 'info'}`}, s);
}

// A status message block: kind 'ok' | 'error' | 'warn' | 'info'.
export function notice(kind, title, detail, hint) {
  return h('div', {class: `notice notice-${kind}`},
    icon(kind === 'ok' ? 'check' : 'alert'),
    h('div', {},
      h('p', {class: 'notice-title'}, title),
      detail ? h('p', {class: 'detail'}, detail) : null,
      hint ? h('p', {class: 'hint'}, hint) : null));
}

// A labelled form field; returns {wrap, input, error} with the error slot wired to aria.
export function field({label, input, desc, id}) {
  const inputId = id || input.id || uid('f');
  input.id = inputId;
  const errId = `${inputId}-error`;
  const descId = `${inputId}-desc`;
  const error = h('p', {class: 'field-error', id: errId});
  const describedBy = [desc ? descId : null, errId].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', describedBy);
  const wrap = h('div', {class: 'field'},
    h('label', {for: inputId}, label),
    input,
    desc ? h('p', {class: 'desc', id: descId}, desc) : null,
    error);
  return {wrap, input, error};
}

export function setFieldError(f, message) {
  f.error.textContent = message || '';
  if (message) f.input.setAttribute('aria-invalid', 'true');
  else f.input.removeAttribute('aria-invalid');
}

// Marks a button busy while `work` runs; returns work's result.
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

let toastBox = null;
export function toast(text) {
  if (!toastBox) {
    toastBox = h('div', {class: 'toasts', role: 'status', 'aria-live': 'polite'});
    document.body.append(toastBox);
  }
  const t = h('div', {class: 'toast'}, text);
  toastBox.append(t);
  setTimeout(() => t.remove(), 4000);
}

export function select(options, value, attrs = {}) {
  const s = h('select', attrs);
  for (const [v, label] of options) s.append(h('option', {value: v}, label));
  s.value = value ?? options[0][0];
  return s;
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
export const EVENT_TYPES = [
  ['vulnerability.new', 'New vulnerabilities'],
  ['vulnerability.status_changed', 'Status changes'],
  ['vulnerability.threshold_crossed', 'Thresholds crossed'],
  ['scan.completed', 'Scans completed'],
];
export const FINDING_STATUSES = [
  ['open', 'Open'],
  ['resolved', 'Resolved'],
  ['false_positive', 'False positive'],
  ['accepted_risk', 'Accepted risk'],
];

// A link only for http(s) URLs; anything else (javascript:, data:, relative junk) shows as text.
export function extLink(url, text, attrs = {}) {
  const u = String(url || '');
  if (!/^https?:\/\/[^\s]+$/i.test(u)) return h('span', {class: 'mono'}, text ?? u);
  return h('a', {href: u, target: '_blank', rel: 'noopener noreferrer', ...attrs}, text ?? u);
}
