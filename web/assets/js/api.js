// The HTTP API from the browser: same origin, the session cookie (HttpOnly, so this code never
// sees it) and the CSRF token in X-CSRF-Token on every request that changes something.

let csrfToken = null;
let onSignedOut = null;

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `The server answered HTTP ${status}`);
    this.status = status;
    this.code = e.code || `http_${status}`;
    this.hint = e.hint || '';
    this.field = e.field || '';
    this.fields = Array.isArray(e.fields) ? e.fields : [];
  }
}

export function setCsrfToken(token) { csrfToken = token; }
// Called when a request comes back 401 (the session expired or was signed out elsewhere).
export function onUnauthorized(fn) { onSignedOut = fn; }

export async function api(method, path, body, {quiet401 = false, csrfRetried = false} = {}) {
  const headers = {Accept: 'application/json'};
  const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, init);
  } catch (err) {
    throw new ApiError(0, {error: {code: 'network_error',
      message: 'Tocsin did not answer (network error)', hint: 'check that the service is running'}});
  }
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 403 && err.code === 'csrf_failed' && !csrfRetried && await refreshCsrfToken()) {
      // Signed out and in again in another tab: the cookie is the new session's, this tab's
      // token the old one's. The server refused the request, so asking again is safe.
      return api(method, path, body, {quiet401, csrfRetried: true});
    }
    if (res.status === 401 && !quiet401 && onSignedOut) onSignedOut();
    throw err;
  }
  return data;
}

// The CSRF token of the session the cookie now names (GET /session needs none); false when
// there is no session any more.
async function refreshCsrfToken() {
  try {
    const me = await get('/session', {quiet401: true});
    if (!me || typeof me.csrf_token !== 'string') return false;
    csrfToken = me.csrf_token;
    return true;
  } catch {
    return false;
  }
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body ?? {}, opts);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;
