// Tocsin web UI: sign-in, the navigation shell and the client-side router. Pages live in
// pages/*.js; each exports render(ctx) returning {node, title, cleanup?}.
import {api, get, onUnauthorized, setCsrfToken, ApiError} from './api.js';
import {h, clear, icon, logo, notice} from './dom.js';
import {closeDrawer} from './drawer.js';
import {renderSignIn} from './pages/signin.js';
import {renderNotificationTools} from './pages/integrations.js';
import {renderProjects} from './pages/projects.js';
import {renderProjectFindings} from './pages/findings.js';
import {renderProjectSettings} from './pages/project_settings.js';
import {renderDeliveries} from './pages/deliveries.js';

const app = document.getElementById('app');
const state = {me: null, cleanup: null, afterSignIn: null, moved: false};

// [pattern, page, options]; the first match wins. Parameters are decoded path segments.
const ROUTES = [
  [/^\/integrations\/notification-tools$/, renderNotificationTools, {admin: true, nav: 'integrations'}],
  [/^\/projects$/, renderProjects, {nav: 'projects'}],
  [/^\/projects\/([^/]+)\/findings$/, renderProjectFindings, {nav: 'projects'}],
  [/^\/projects\/([^/]+)\/settings\/notification-tools$/, renderProjectSettings, {nav: 'projects'}],
  [/^\/deliveries$/, renderDeliveries, {nav: 'deliveries'}],
];
// Paths that only lead somewhere else.
function redirectFor(path) {
  if (path === '/' || path === '' || path === '/signin') return homePath();
  if (path === '/integrations') return '/integrations/notification-tools';
  const m = path.match(/^\/projects\/([^/]+)\/?(settings)?\/?$/);
  if (m) return `/projects/${m[1]}/${m[2] ? 'settings/notification-tools' : 'findings'}`;
  return null;
}

function projectOfRole(role) {
  return role && role.startsWith('project:') ? role.slice('project:'.length) : null;
}

function homePath() {
  const p = state.me && projectOfRole(state.me.role);
  if (p) return `/projects/${encodeURIComponent(p)}/findings`;
  return '/integrations/notification-tools';
}

export function navigate(path, {replace = false} = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  state.moved = true;
  render();
}

// Same-origin links inside the app navigate without a page load.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => { state.moved = true; render(); });

onUnauthorized(() => {
  if (!state.me) return;
  state.me = null;
  setCsrfToken(null);
  state.afterSignIn = location.pathname + location.search;
  render();
});

async function signOut() {
  try {
    await api('DELETE', '/session');
  } catch (err) {
    // Signed out anyway as far as this page is concerned.
  }
  state.me = null;
  setCsrfToken(null);
  navigate('/signin');
}

function navLink(href, label, iconName, current, extra = {}) {
  return h('a', {href, 'aria-current': current ? 'page' : null, ...extra}, icon(iconName), h('span', {}, label));
}

function shell(nav, path) {
  const admin = state.me.role === 'admin';
  const mine = projectOfRole(state.me.role);
  const page = h('main', {class: 'page', id: 'main', tabindex: '-1'});
  const links = [];
  if (admin) {
    links.push(navLink('/integrations/notification-tools', 'Integrations', 'plug', false,
      {class: nav === 'integrations' ? 'active-parent' : null}));
    links.push(h('a', {href: '/integrations/notification-tools', class: 'sub',
      'aria-current': path === '/integrations/notification-tools' ? 'page' : null}, 'Notification Tools'));
  }
  links.push(navLink('/projects', mine ? 'Project' : 'Projects', 'folder', nav === 'projects'));
  links.push(navLink('/deliveries', 'Deliveries', 'send', nav === 'deliveries'));
  const aside = h('aside', {class: 'sidebar'}, h('div', {class: 'sidebar-inner'},
    h('a', {class: 'brand', href: homePath(), 'aria-label': 'Tocsin home'}, logo('tocsin'), h('span', {class: 'brand-name'}, 'Tocsin')),
    h('nav', {class: 'nav', 'aria-label': 'Main'}, links),
    h('div', {class: 'sidebar-foot'},
      h('p', {class: 'who'},
        h('span', {class: 'sr-only'}, 'Signed in as '),
        h('span', {class: 'who-name'}, state.me.name),
        h('span', {class: 'who-role'}, `Role: ${state.me.role}`)),
      h('button', {type: 'button', class: 'btn btn-ghost btn-small', onclick: signOut}, 'Sign out'))));
  return {root: h('div', {class: 'shell'}, aside, page), page};
}

async function render() {
  closeDrawer();
  if (state.cleanup) {
    try { state.cleanup(); } catch { /* a page's cleanup must not block navigation */ }
    state.cleanup = null;
  }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  if (!state.me) {
    if (path !== '/signin' && !state.afterSignIn) state.afterSignIn = location.pathname + location.search;
    clear(app).append(renderSignIn({
      onSignedIn(me) {
        state.me = me;
        setCsrfToken(me.csrf_token);
        const next = state.afterSignIn && state.afterSignIn !== '/signin' ? state.afterSignIn : homePath();
        state.afterSignIn = null;
        navigate(next, {replace: true});
      },
    }));
    document.title = 'Sign in · Tocsin';
    if (path !== '/signin') history.replaceState(null, '', '/signin');
    return;
  }
  const to = redirectFor(path);
  if (to && to !== path) {
    navigate(to, {replace: true});
    return;
  }
  let match = null;
  for (const [re, fn, opts] of ROUTES) {
    const m = path.match(re);
    if (m) { match = {fn, opts, params: m.slice(1).map(decodeURIComponent)}; break; }
  }
  const {root, page} = shell(match ? match.opts.nav : null, path);
  clear(app).append(root);
  if (!match) {
    page.append(h('h1', {}, 'Page not found'), h('p', {class: 'muted'}, `Nothing lives at ${path}.`));
    document.title = 'Not found · Tocsin';
    return;
  }
  if (match.opts.admin && state.me.role !== 'admin') {
    page.append(notice('warn', 'Admins only', 'This page needs an admin token.'));
    return;
  }
  const ctx = {
    me: state.me, params: match.params, query: new URLSearchParams(location.search), navigate,
    setCleanup(fn) { state.cleanup = fn; },
  };
  try {
    const out = await match.fn(ctx);
    if (!page.isConnected) return;  // navigated away meanwhile
    page.append(out.node);
    document.title = `${out.title} · Tocsin`;
    // After a navigation inside the app, move focus to the new page's heading so keyboard and
    // screen reader users start there (a full page load starts at the top anyway).
    const heading = page.querySelector('h1');
    if (heading && state.moved && !document.querySelector('[role="dialog"]')) {
      const active = document.activeElement;
      if (!active || active === document.body || !page.contains(active)) {
        heading.setAttribute('tabindex', '-1');
        heading.focus({preventScroll: true});
      }
    }
    state.moved = false;
  } catch (err) {
    if (!page.isConnected) return;
    if (err instanceof ApiError && err.status === 401) return;  // back to sign-in already
    page.append(notice('error', 'This page could not be loaded', err.message, err.hint));
    document.title = 'Error · Tocsin';
  }
}

async function boot() {
  try {
    const me = await get('/session', {quiet401: true});
    state.me = me;
    setCsrfToken(me.csrf_token);
  } catch {
    state.me = null;
  }
  render();
}

boot();
