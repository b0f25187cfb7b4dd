// Projects: the list (a project token sees only its own) and, for admins, New project.
import {get, post, enc} from '../api.js';
import {h, field, setFieldError, busy, timeEl, notice, icon, toast, extLink} from '../dom.js';

export async function renderProjects(ctx) {
  const admin = ctx.me.role === 'admin';
  const list = await get('/projects?limit=500');
  const items = list.items || [];

  const head = h('div', {class: 'page-head'},
    h('div', {},
      h('h1', {}, 'Projects'),
      h('p', {class: 'sub-title'}, 'Code bases and applications whose findings Tocsin tracks.')));
  const node = h('div', {}, head);

  if (admin) {
    const form = createForm(ctx);
    const toggle = h('button', {type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false',
      'aria-controls': 'new-project'}, icon('plus'), 'New project');
    toggle.addEventListener('click', () => {
      const open = form.hidden;
      form.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (open) form.querySelector('input').focus();
    });
    head.append(toggle);
    form.hidden = items.length > 0;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    node.append(form);
  }

  if (items.length === 0) {
    node.append(h('div', {class: 'card empty'},
      admin ? 'No projects yet. Create one, then link it to Mattermost under its Notification Tools.'
        : 'This token\'s project does not exist yet.'));
    return {node, title: 'Projects'};
  }
  const rows = items.map((p) => h('tr', {},
    h('td', {},
      h('a', {href: `/projects/${enc(p.name)}/findings`}, p.display_name || p.name),
      p.display_name ? h('div', {class: 'sub mono'}, p.name) : null),
    h('td', {}, p.url ? extLink(p.url) : h('span', {class: 'muted'}, '—')),
    h('td', {class: 'nowrap'}, timeEl(p.created_at)),
    h('td', {class: 'nowrap'},
      h('div', {class: 'row'},
        h('a', {class: 'btn btn-small', href: `/projects/${enc(p.name)}/findings`}, 'Findings'),
        h('a', {class: 'btn btn-small', href: `/projects/${enc(p.name)}/settings/notification-tools`,
          'aria-label': `Notification Tools of ${p.name}`}, 'Notification Tools')))));
  node.append(h('div', {class: 'card table-wrap'},
    h('table', {},
      h('caption', {class: 'sr-only'}, 'Projects'),
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Project'), h('th', {scope: 'col'}, 'URL'),
        h('th', {scope: 'col'}, 'Created'), h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')))),
      h('tbody', {}, rows))));
  return {node, title: 'Projects'};
}

function createForm(ctx) {
  const name = field({label: 'Name', input: h('input', {type: 'text', name: 'name', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'acme-web'}), desc: 'Lower-case letters, digits, dot, dash, underscore.'});
  const display = field({label: 'Display name', input: h('input', {type: 'text', name: 'display_name',
    autocomplete: 'off', placeholder: 'ACME Web shop'}), desc: 'Optional.'});
  const url = field({label: 'URL', input: h('input', {type: 'text', inputmode: 'url', name: 'url',
    autocomplete: 'off', placeholder: 'https://git.example.com/acme/web'}), desc: 'Optional: the repository or app.'});
  const fields = {name, display_name: display, url};
  const message = h('div', {role: 'alert'});
  const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create project');
  const form = h('form', {id: 'new-project', class: 'card card-pad section stack', novalidate: true,
    'aria-labelledby': 'new-project-title'},
  h('h2', {id: 'new-project-title'}, 'New project'),
  h('div', {class: 'inline-form'}, name.wrap, display.wrap, url.wrap, h('div', {class: 'field'}, submit)),
  message);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      for (const f of Object.values(fields)) setFieldError(f, '');
      message.replaceChildren();
      const body = {name: name.input.value.trim()};
      if (display.input.value.trim()) body.display_name = display.input.value.trim();
      if (url.input.value.trim()) body.url = url.input.value.trim();
      if (!body.name) {
        setFieldError(name, 'Enter a name.');
        name.input.focus();
        return;
      }
      try {
        const p = await post('/projects', body);
        toast(`Project ${p.name} created`);
        ctx.navigate(`/projects/${enc(p.name)}/settings/notification-tools`);
      } catch (err) {
        const f = fields[String(err.field || '').replace(/^\//, '')];
        if (f) {
          setFieldError(f, err.message);
          f.input.focus();
        } else {
          message.append(notice('error', err.message, null, err.hint));
        }
      }
    });
  });
  return form;
}

// The heading, breadcrumb and tabs shared by a project's pages.
export function projectHeader(project, current, crumbs) {
  const base = `/projects/${enc(project.name)}`;
  const tab = (href, label, key) => h('a', {href, 'aria-current': current === key ? 'page' : null}, label);
  return h('div', {},
    h('div', {class: 'page-head'},
      h('div', {},
        h('nav', {class: 'breadcrumb', 'aria-label': 'Breadcrumb'},
          h('a', {href: '/projects'}, 'Projects'), h('span', {class: 'sep', 'aria-hidden': 'true'}, '›'),
          h('a', {href: `${base}/findings`}, project.name),
          crumbs.map((c) => [h('span', {class: 'sep', 'aria-hidden': 'true'}, '›'), h('span', {}, c)])),
        h('h1', {}, project.display_name || project.name),
        project.url ? h('p', {class: 'sub-title'}, extLink(project.url)) : null)),
    h('nav', {class: 'tabs', 'aria-label': 'Project'},
      tab(`${base}/findings`, 'Findings', 'findings'),
      tab(`${base}/settings/notification-tools`, 'Settings › Notification Tools', 'settings')));
}

export async function loadProject(name) {
  return get(`/projects/${enc(name)}`);
}

