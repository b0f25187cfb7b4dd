// A Mattermost post as Tocsin would send it, drawn roughly as Mattermost shows it: the small
// Markdown subset Tocsin's posts use (backslash escapes, **bold**, `code`, [text](http link),
// the few :emoji: it sends) is turned into DOM nodes; everything else stays literal text. The
// exact JSON that would be sent is one click away under "Post JSON".
import {h, logo, extLink} from '../dom.js';

const EMOJI = {
  rotating_light: '\u{1F6A8}', warning: '\u26A0\uFE0F', information_source: '\u2139\uFE0F',
  white_check_mark: '\u2705', x: '\u274C', grey_question: '\u2754',
  chart_with_upwards_trend: '\u{1F4C8}', chart_with_downwards_trend: '\u{1F4C9}',
};
const PUNCT = /[!-/:-@[-`{-~]/;

// Markdown (the subset above) → an array of nodes. Never builds HTML from text.
export function markdown(text) {
  const s = String(text ?? '');
  const out = [];
  let buf = '';
  const flush = () => { if (buf) { out.push(document.createTextNode(buf)); buf = ''; } };
  for (let i = 0; i < s.length;) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && PUNCT.test(s[i + 1])) {
      buf += s[i + 1];
      i += 2;
    } else if (c === '*' && s.startsWith('**', i)) {
      const end = findUnescaped(s, '**', i + 2);
      if (end < 0) { buf += '**'; i += 2; continue; }
      flush();
      out.push(h('strong', {}, markdown(s.slice(i + 2, end))));
      i = end + 2;
    } else if (c === '`') {
      const end = s.indexOf('`', i + 1);
      if (end < 0) { buf += c; i += 1; continue; }
      flush();
      out.push(h('code', {}, s.slice(i + 1, end)));
      i = end + 1;
    } else if (c === '[') {
      const close = findUnescaped(s, '](', i + 1);
      const end = close < 0 ? -1 : s.indexOf(')', close + 2);
      if (close < 0 || end < 0) { buf += c; i += 1; continue; }
      flush();
      const label = h('span', {}, markdown(s.slice(i + 1, close)));
      const url = s.slice(close + 2, end);
      const a = extLink(url, '');
      if (a.tagName === 'A') { a.append(label); out.push(a); } else { out.push(label); }
      i = end + 1;
    } else if (c === ':') {
      const m = s.slice(i).match(/^:([a-z_]+):/);
      if (m && EMOJI[m[1]]) {
        buf += EMOJI[m[1]];
        i += m[0].length;
      } else {
        buf += c;
        i += 1;
      }
    } else {
      buf += c;
      i += 1;
    }
  }
  flush();
  return out;
}

function findUnescaped(s, needle, from) {
  for (let i = from; i <= s.length - needle.length; i++) {
    if (s[i] === '\\') { i++; continue; }
    if (s.startsWith(needle, i)) return i;
  }
  return -1;
}

export function renderPost(post) {
  const p = post || {};
  const attachments = (p.props && Array.isArray(p.props.attachments)) ? p.props.attachments : [];
  return h('div', {class: 'post'},
    h('div', {class: 'post-avatar'}, logo('tocsin')),
    h('div', {class: 'post-main'},
      h('div', {class: 'post-author'}, 'tocsin', h('span', {class: 'bot'}, 'BOT')),
      p.message ? h('div', {class: 'post-message'}, markdown(p.message)) : null,
      attachments.map(attachment),
      h('details', {class: 'small'}, h('summary', {}, 'Post JSON'),
        h('pre', {class: 'mono post-json'}, JSON.stringify(p, null, 2)))));
}

function attachment(a) {
  const el = h('div', {class: 'attachment'},
    a.pretext ? h('div', {class: 'attachment-text'}, markdown(a.pretext)) : null,
    // A linked title is plain text; an unlinked one is Markdown (render/post.hpp escapes it).
    a.title ? h('div', {class: 'attachment-title'}, a.title_link ? extLink(a.title_link, a.title) : markdown(a.title)) : null,
    a.text ? h('div', {class: 'attachment-text'}, markdown(a.text)) : null,
    Array.isArray(a.fields) && a.fields.length
      ? h('div', {class: 'attachment-fields'}, a.fields.map((f) => h('div', {class: f.short ? '' : 'long'},
        h('div', {class: 'f-title'}, f.title || ''), h('div', {class: 'f-value'}, markdown(String(f.value ?? ''))))))
      : null,
    a.footer ? h('div', {class: 'small muted'}, a.footer) : null);
  // The colour comes from the server's fixed palette; only a plain hex colour is applied.
  if (typeof a.color === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(a.color)) el.style.borderLeftColor = a.color;
  return el;
}
