// Sign-in with an API token. The token goes to POST /api/v1/session once; the browser keeps only
// the HttpOnly session cookie, and the field is emptied right away.
import {post} from '../api.js';
import {h, field, setFieldError, busy, logo, notice} from '../dom.js';

export function renderSignIn({onSignedIn}) {
  const token = field({
    label: 'API token',
    input: h('input', {type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true}),
    desc: 'The first admin token is in <data-dir>/admin-token; more come from `tocsin token create`.',
  });
  const message = h('div', {role: 'alert'});
  const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Sign in');
  const form = h('form', {class: 'card signin', novalidate: true, 'aria-labelledby': 'signin-title'},
    h('span', {class: 'brand'}, logo('tocsin'), h('span', {class: 'brand-name'}, 'Tocsin')),
    h('div', {},
      h('h1', {id: 'signin-title'}, 'Sign in'),
      h('p', {class: 'muted'}, 'Security events to Mattermost, without the flood.')),
    token.wrap, message, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    message.replaceChildren();
    setFieldError(token, '');
    const value = token.input.value.trim();
    if (!value) {
      setFieldError(token, 'Enter an API token.');
      token.input.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const me = await post('/session', {token: value}, {quiet401: true});
        token.input.value = '';
        onSignedIn(me);
      } catch (err) {
        if (err.status === 401) {
          setFieldError(token, 'This token is not valid (unknown or revoked).');
          token.input.focus();
        } else {
          message.append(notice('error', 'Could not sign in', err.message, err.hint));
        }
      }
    });
  });
  setTimeout(() => token.input.focus(), 0);
  return h('main', {class: 'signin-wrap', id: 'main'}, form);
}
