// A Mattermost post as Tocsin would send it, drawn roughly as Mattermost shows it. The message
// and attachment texts are shown as the raw Markdown that is sent (escapes included), as text.
import {h, logo, extLink} from '../dom.js';

export function renderPost(post) {
  const p = post || {};
  const attachments = (p.props && Array.isArray(p.props.attachments)) ? p.props.attachments : [];
  return h('div', {class: 'post'},
    h('div', {class: 'post-avatar'}, logo('tocsin')),
    h('div', {class: 'post-main'},
      h('div', {class: 'post-author'}, 'tocsin', h('span', {class: 'bot'}, 'BOT')),
      p.message ? h('div', {class: 'post-message'}, p.message) : null,
      attachments.map(attachment)));
}

function attachment(a) {
  const el = h('div', {class: 'attachment'},
    a.pretext ? h('div', {class: 'attachment-text'}, a.pretext) : null,
    a.title ? h('div', {class: 'attachment-title'}, a.title_link ? extLink(a.title_link, a.title) : a.title) : null,
    a.text ? h('div', {class: 'attachment-text'}, a.text) : null,
    Array.isArray(a.fields) && a.fields.length
      ? h('div', {class: 'attachment-fields'}, a.fields.map((f) => h('div', {class: f.short ? '' : 'long'},
        h('div', {class: 'f-title'}, f.title || ''), h('div', {class: 'f-value'}, String(f.value ?? '')))))
      : null,
    a.footer ? h('div', {class: 'small muted'}, a.footer) : null);
  // The colour comes from the server's fixed palette; only a plain hex colour is applied.
  if (typeof a.color === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(a.color)) el.style.borderLeftColor = a.color;
  return el;
}
