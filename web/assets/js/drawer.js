// A modal drawer: role="dialog", aria-modal, labelled by its heading. While open the page
// behind it is inert, Tab and Shift+Tab stay inside, Escape (or the close button, or a click on
// the backdrop) closes it, and focus goes back to the control that opened it.
import {h, icon, uid} from './dom.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), ' +
  'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

let current = null;

export function openDrawer({title, description, body, footer, initialFocus, onClose}) {
  if (current) current.close();
  const opener = document.activeElement;
  const titleId = uid('drawer-title');
  const descId = description ? uid('drawer-desc') : null;
  const closeBtn = h('button', {type: 'button', class: 'icon-btn', 'aria-label': 'Close'}, icon('close'));
  const panel = h('section', {
    class: 'drawer', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId,
    'aria-describedby': descId,
  },
  h('div', {class: 'drawer-head'}, h('h2', {id: titleId}, title), closeBtn),
  h('div', {class: 'drawer-body'}, description ? h('p', {class: 'muted', id: descId}, description) : null, body),
  footer ? h('div', {class: 'drawer-foot'}, footer) : null);
  const backdrop = h('div', {class: 'backdrop'});
  const overlays = document.getElementById('overlays');
  const app = document.getElementById('app');
  app.inert = true;
  overlays.append(backdrop, panel);

  let closed = false;
  const handle = {
    el: panel,
    close() {
      if (closed) return;
      closed = true;
      panel.remove();
      backdrop.remove();
      app.inert = false;
      if (current === handle) current = null;
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      if (onClose) onClose();
    },
  };
  current = handle;

  closeBtn.addEventListener('click', () => handle.close());
  backdrop.addEventListener('click', () => handle.close());
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      handle.close();
      return;
    }
    if (e.key !== 'Tab') return;
    const items = [...panel.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null);
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === first || !panel.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !panel.contains(document.activeElement))) {
      e.preventDefault();
      first.focus();
    }
  });
  // Focus that escapes anyway (e.g. a click on the page behind) is brought back.
  panel.addEventListener('focusout', (e) => {
    if (e.relatedTarget && !panel.contains(e.relatedTarget) && !closed) {
      setTimeout(() => { if (!closed) (initialFocus || closeBtn).focus(); }, 0);
    }
  });
  (initialFocus || panel.querySelector(FOCUSABLE) || closeBtn).focus();
  return handle;
}

export function closeDrawer() {
  if (current) current.close();
}
