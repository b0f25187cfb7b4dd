// Integrations › Notification Tools: the Mattermost card and its settings drawer.
import {get, put, post, del} from '../api.js';
import {h, icon, logo, notice, field, setFieldError, busy, timeEl, toast, clear} from '../dom.js';
import {openDrawer} from '../drawer.js';

// What the card says about the tool: [pill class, pill text, detail, hint].
function describe(mm) {
  if (!mm.active) {
    return ['', 'Not activated', mm.configured === false ? null : null, null];
  }
  // The last Test Connection explains a failure only if it failed: a token revoked later, while
  // posting, leaves a successful test behind.
  const failedTest = mm.last_test && mm.last_test.ok === false ? mm.last_test : null;
  switch (mm.status) {
    case 'ok':
      return ['pill-ok', 'Active', 'Connection successful', null];
    case 'auth_failed':
      return ['pill-error', 'Token refused', (failedTest && failedTest.message) ||
        'Mattermost refused the access token (HTTP 401) when Tocsin last posted.',
      'Deliveries wait until the token is replaced or a Test Connection succeeds. Open Settings and paste a valid token.'];
    case 'failing':
      return ['pill-error', 'Failing', (failedTest && failedTest.message) ||
        'The server could not be reached when Tocsin last tried.',
      'Open Settings and run Test Connection for details.'];
    default:
      return ['pill-ok', 'Active', 'Not tested since the last change', null];
  }
}

export async function renderNotificationTools() {
  const cardSlot = h('div', {class: 'cards'});
  const node = h('div', {},
    h('div', {class: 'page-head'},
      h('div', {},
        h('nav', {class: 'breadcrumb', 'aria-label': 'Breadcrumb'},
          h('a', {href: '/integrations/notification-tools'}, 'Integrations'), h('span', {class: 'sep', 'aria-hidden': 'true'}, '›'),
          h('span', {}, 'Notification Tools')),
        h('h1', {}, 'Notification Tools'),
        h('p', {class: 'sub-title'}, 'Where Tocsin posts security events. Connect a tool once here, then choose channels per project.'))),
    cardSlot);

  async function refresh(checking = false, focusAction = false) {
    const mm = await get('/integrations/mattermost');
    const hadFocus = cardSlot.contains(document.activeElement);
    clear(cardSlot).append(card(mm, refresh, checking));
    // Re-rendering replaced the focused button: keep keyboard users where they were.
    if (hadFocus || (focusAction && document.activeElement === document.body)) {
      const action = cardSlot.querySelector('.tool-card-foot button');
      if (action && !document.querySelector('[role="dialog"]')) action.focus();
    }
  }
  await refresh();
  return {node, title: 'Notification Tools'};
}

function card(mm, refresh, checking) {
  const [pillClass, pillText, detail, hint] = describe(mm);
  const titleId = 'tool-mattermost-title';
  const state = h('span', {class: `pill ${pillClass}`, 'data-testid': 'mattermost-state'}, checking ? 'Checking…' : pillText);
  const meta = h('dl', {class: 'meta'});
  if (mm.url) meta.append(h('dt', {}, 'Server'), h('dd', {}, mm.url));
  if (mm.token_set) meta.append(h('dt', {}, 'Token'), h('dd', {class: 'mono'}, `…${mm.token_hint || ''}`));
  if (mm.last_test && mm.last_test.at) meta.append(h('dt', {}, 'Last test'), h('dd', {}, timeEl(mm.last_test.at)));
  let action;
  if (mm.active) {
    action = h('button', {type: 'button', class: 'icon-btn', 'aria-label': 'Settings', title: 'Settings',
      'aria-haspopup': 'dialog'}, icon('gear'));
  } else {
    action = h('button', {type: 'button', class: 'btn btn-primary', 'aria-haspopup': 'dialog'}, 'Activate');
  }
  action.addEventListener('click', () => openSettings(mm, refresh));
  const status = [];
  if (mm.active && detail && !checking) {
    status.push(pillClass === 'pill-error'
      ? notice('error', detail, null, hint)
      : h('p', {class: 'small muted'}, detail));
  }
  return h('article', {class: 'card tool-card', 'aria-labelledby': titleId},
    h('div', {class: 'tool-card-head'},
      logo('mattermost', 'tool-logo'),
      h('div', {class: 'tool-card-title'},
        h('h2', {id: titleId}, 'Mattermost'),
        h('p', {class: 'small muted'}, 'Posts to channels with a bot or personal access token.')),
      state),
    meta.childElementCount ? meta : null,
    status,
    h('div', {class: 'tool-card-foot'},
      h('span', {class: 'small muted'}, mm.active ? 'Change the settings, test or deactivate' : 'Connect a Mattermost server'),
      action));
}

function openSettings(mm, refresh) {
  const url = field({
    label: 'Mattermost URL',
    input: h('input', {type: 'text', inputmode: 'url', name: 'url', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'https://chat.example.com', value: mm.url || ''}),
    desc: 'The address you open Mattermost at, with its subpath if it has one.',
  });
  const token = field({
    label: 'Access token',
    input: h('input', {type: 'password', name: 'token', autocomplete: 'new-password', spellcheck: 'false',
      placeholder: mm.token_set ? `…${mm.token_hint || ''}` : ''}),
    desc: mm.token_set
      ? `A token is stored (…${mm.token_hint || ''}). Leave empty to keep it.`
      : 'A bot access token (recommended) or a personal access token. It is stored encrypted and never shown again.',
  });
  const insecureBox = h('input', {type: 'checkbox', name: 'insecure', checked: !!mm.insecure, id: 'mm-insecure'});
  const insecureErr = h('p', {class: 'field-error', id: 'mm-insecure-error'});
  const insecure = h('div', {class: 'field'},
    h('label', {class: 'check', for: 'mm-insecure'}, insecureBox,
      h('span', {}, 'Insecure: skip TLS certificate verification',
        h('span', {class: 'desc'}, 'Only for a test server with a self-signed certificate; a CA file is the safer choice.'))),
    insecureErr);
  const ca = field({
    label: 'CA file (optional)',
    input: h('input', {type: 'text', name: 'ca_file', autocomplete: 'off', spellcheck: 'false',
      placeholder: '/etc/tocsin/mattermost-ca.pem', value: mm.ca_file || ''}),
    desc: 'A PEM file on the Tocsin server that signs the Mattermost server\'s certificate.',
  });
  const fields = {url, token, ca_file: ca, insecure: {input: insecureBox, error: insecureErr}};
  const result = h('div', {role: 'status', 'aria-live': 'polite', class: 'stack', 'data-testid': 'test-result'});
  const formError = h('div', {role: 'alert'});

  const testBtn = h('button', {type: 'button', class: 'btn'}, 'Test Connection');
  const saveBtn = h('button', {type: 'submit', class: 'btn btn-primary', form: 'mm-settings'}, 'Save');
  const cancelBtn = h('button', {type: 'button', class: 'btn btn-ghost'}, 'Cancel');
  const footer = [saveBtn, testBtn, h('span', {class: 'spacer'})];
  let deactivateBtn = null;
  if (mm.active) {
    deactivateBtn = h('button', {type: 'button', class: 'btn btn-danger'}, 'Deactivate');
    footer.push(deactivateBtn);
  }
  footer.push(cancelBtn);

  const form = h('form', {id: 'mm-settings', class: 'stack', novalidate: true},
    url.wrap, token.wrap, insecure, ca.wrap, formError, result);

  const drawer = openDrawer({
    title: mm.active ? 'Mattermost settings' : 'Activate Mattermost',
    description: 'Connect Tocsin to your Mattermost server. Test the connection before you save.',
    body: form,
    footer,
    initialFocus: url.input,
  });
  cancelBtn.addEventListener('click', () => drawer.close());

  function values() {
    const v = {url: url.input.value.trim(), insecure: insecureBox.checked, ca_file: ca.input.value.trim()};
    const t = token.input.value.trim();
    if (t) v.token = t;
    return v;
  }
  function clearErrors() {
    for (const f of Object.values(fields)) setFieldError(f, '');
    formError.replaceChildren();
  }
  function showFieldErrors(err) {
    const list = err.fields.length ? err.fields : (err.field ? [{field: err.field, message: err.message}] : []);
    let first = null;
    for (const {field: name, message} of list) {
      const f = fields[String(name).replace(/^\//, '')];
      if (!f) continue;
      setFieldError(f, message);
      first = first || f.input;
    }
    if (first) first.focus();
    else formError.append(notice('error', err.message, null, err.hint));
  }

  testBtn.addEventListener('click', () => busy(testBtn, async () => {
    clearErrors();
    result.replaceChildren(h('p', {class: 'muted small'}, 'Testing the connection…'));
    const body = values();
    if (!body.url) delete body.url;
    try {
      const r = await post('/integrations/mattermost/test', body);
      result.replaceChildren(testOutcome(r));
      result.scrollIntoView({block: 'nearest'});
    } catch (err) {
      result.replaceChildren();
      showFieldErrors(err);
    }
  }));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(saveBtn, async () => {
      clearErrors();
      const body = values();
      let bad = false;
      if (!body.url) { setFieldError(url, 'Enter the address of your Mattermost server.'); bad = true; }
      if (!body.token && !mm.token_set) { setFieldError(token, 'Paste an access token.'); bad = true; }
      if (bad) {
        (url.input.getAttribute('aria-invalid') ? url.input : token.input).focus();
        return;
      }
      body.active = true;
      try {
        await put('/integrations/mattermost', body);
      } catch (err) {
        showFieldErrors(err);
        return;
      }
      token.input.value = '';
      drawer.close();
      toast('Mattermost settings saved');
      // Check the saved settings once, so the card shows whether they work.
      await refresh(true, true);
      try { await post('/integrations/mattermost/test', {}); } catch { /* the card shows the state */ }
      await refresh(false);
    });
  });

  if (deactivateBtn) {
    deactivateBtn.addEventListener('click', () => busy(deactivateBtn, async () => {
      if (!window.confirm('Deactivate Mattermost? The stored token is erased and nothing is posted until it is activated again.')) return;
      try {
        await del('/integrations/mattermost');
      } catch (err) {
        formError.replaceChildren(notice('error', err.message, null, err.hint));
        return;
      }
      drawer.close();
      toast('Mattermost deactivated');
      await refresh(false, true);
    }));
  }
}

const FAILURE_TITLE = {
  invalid_url: 'The URL is not valid',
  connection_failed: 'Could not connect',
  tls_error: 'The TLS certificate was not accepted',
  not_mattermost: 'This is not a Mattermost server',
  token_invalid: 'Mattermost refused the token',
  forbidden: 'No permission to post there',
  channel_not_found: 'Channel not found',
  server_error: 'The Mattermost server failed',
};

// The Test Connection answer: green with who the token is, or the code's message and hint in red.
export function testOutcome(r) {
  if (r.ok) {
    const who = r.user ? `Signed in as @${r.user.username}${r.user.is_bot ? ' (bot)' : ''}` : null;
    const version = r.server_version ? `Mattermost ${r.server_version}` : null;
    return notice('ok', 'Connection successful', [who, version].filter(Boolean).join(' · ') || r.message);
  }
  const box = notice('error', FAILURE_TITLE[r.code] || 'The connection failed', r.message, r.hint);
  box.querySelector('div').append(h('p', {class: 'small'}, 'Code: ', h('code', {}, r.code || 'unknown')));
  return box;
}
