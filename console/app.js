// The console's shell: sign-in, the signed-in header and navigation, the environment picker
// and which view is shown. The views live in views.js, user.js, devices.js and settings.js.
import { describeError, isSignedIn, session, setUnauthorizedHandler, signIn, signOut } from './api.js';
import { busy, clearAlerts, field, h, showAlert, uid } from './dom.js';
import { forgetPairings } from './devices.js';
import { renderMfaSettings, renderPolicies } from './settings.js';
import { renderUser } from './user.js';
import { allEnvironments, renderEnvironments, renderOutbox, renderUsers } from './views.js';

const $session = document.getElementById('session');
const $nav = document.getElementById('nav');
const $status = document.getElementById('status');
const $view = document.getElementById('view');

const NAV = [
  ['environments', 'Environments'],
  ['users', 'Users'],
  ['mfaSettings', 'MFA settings'],
  ['policies', 'Policies'],
  ['outbox', 'Outbox'],
];

const state = { envId: '', environments: [], view: 'users', user: undefined };
/** Bumped on every navigation, so a slow answer for a view that was left is dropped. */
let generation = 0;

/**
 * The status line under the navigation (sticky, so it is in view wherever the page is
 * scrolled): `progress` while a call runs, `success` (a green banner) when an action worked,
 * `error` when it failed — the error itself is shown next to what failed.
 */
function setStatus(text, kind = 'progress') {
  $status.textContent = text;
  $status.dataset.kind = text ? kind : '';
}

/** What the views get: where to draw, how to report, how to move on. */
function context() {
  const mine = ++generation;
  return {
    envId: state.envId,
    root: $view,
    setStatus,
    success: (text) => setStatus(text, 'success'),
    /** Clears the status line if it still shows `text` (a later message stays). */
    clearStatus: (text) => { if ($status.textContent === text) setStatus(''); },
    current: () => mine === generation,
    openUser: (user) => show('user', user),
    /** Reloads the environment picker's list (after a create) and resolves to the environments. */
    environmentsChanged: async () => {
      state.environments = await allEnvironments();
      $session.querySelector('.field.inline')?.replaceWith(renderEnvironmentPicker());
      return state.environments;
    },
    /** Back to the list; `notice` is shown as a success once it is drawn. */
    showUsers: (notice) => show('users', undefined, notice),
  };
}

function show(view, user, notice) {
  state.view = view;
  state.user = user;
  clearAlerts();
  setStatus('');
  for (const button of $nav.querySelectorAll('button[data-view]')) {
    if (button.dataset.view === (view === 'user' ? 'users' : view)) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  $view.replaceChildren();
  const ctx = context();
  const render = {
    environments: renderEnvironments,
    users: renderUsers,
    user: (c) => renderUser(c, user),
    mfaSettings: renderMfaSettings,
    policies: renderPolicies,
    outbox: renderOutbox,
  }[view];
  render(ctx).then(() => {
    if (notice && ctx.current()) ctx.success(notice);
  }, (e) => {
    if (ctx.current() && isSignedIn()) showAlert($view, describeError(e));
  });
}

// ---- signed out ----------------------------------------------------------------------------

function renderSignIn(message) {
  generation++;
  $session.replaceChildren();
  $nav.replaceChildren();
  setStatus('');
  $view.replaceChildren();
  const env = field('Environment ID', { name: 'environmentId', required: true, value: session.environmentId, spellcheck: 'false' });
  const client = field('Client ID', { name: 'clientId', required: true, value: session.clientId, spellcheck: 'false' });
  const secret = field('Client secret', { name: 'clientSecret', type: 'password', required: true, autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const headingId = uid('h');
  const form = h('form', { class: 'card signin', 'aria-labelledby': headingId, novalidate: true },
    h('h2', { id: headingId }, 'Sign in'),
    h('p', { class: 'hint' }, 'Use a worker application\'s client ID and secret (the bootstrap administrator\'s are in data/bootstrap.json).'),
    env.row, client.row, secret.row,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const values = [env.input.value.trim(), client.input.value.trim(), secret.input.value];
    if (values.some((v) => v === '')) {
      showAlert(form, 'Environment ID, Client ID and Client secret are all required.');
      return;
    }
    setStatus('Signing in…');
    try {
      await busy(form, [submit], () => signIn(...values));
    } catch (e) {
      setStatus('');
      showAlert(form, describeError(e));
      return;
    }
    secret.input.value = '';
    await enterConsole();
  });
  $view.append(form);
  if (message) showAlert(form, message);
  (session.environmentId ? (session.clientId ? secret : client) : env).input.focus();
}

// ---- signed in -----------------------------------------------------------------------------

function renderEnvironmentPicker() {
  const id = uid('env');
  const select = h('select', { id },
    state.environments.map((e) => h('option', { value: e.id }, e.name ?? e.id)));
  if (!state.environments.some((e) => e.id === state.envId)) select.append(h('option', { value: state.envId }, state.envId));
  select.value = state.envId;
  select.addEventListener('change', () => {
    state.envId = select.value;
    show(state.view === 'user' ? 'users' : state.view);
  });
  return h('div', { class: 'field inline' }, h('label', { for: id }, 'Environment'), select);
}

async function enterConsole() {
  state.envId = session.environmentId;
  state.environments = [];
  setStatus('Loading environments…');
  try {
    state.environments = await allEnvironments();
    setStatus('');
  } catch (e) {
    if (!isSignedIn()) return;
    setStatus('The environment list could not be loaded.', 'error');
  }
  const signOutButton = h('button', { type: 'button', class: 'secondary', onclick: () => { signOut(); forgetPairings(); renderSignIn(); setStatus('You are signed out.', 'success'); } }, 'Sign out');
  $session.replaceChildren(renderEnvironmentPicker(), h('span', { class: 'who' }, `Client ${session.clientId}`), signOutButton);
  $nav.replaceChildren(h('nav', { 'aria-label': 'Console' },
    NAV.map(([view, label]) => h('button', { type: 'button', 'data-view': view, onclick: () => show(view) }, label))));
  show('users');
}

setUnauthorizedHandler((error) => {
  renderSignIn([...error.lines(), 'Your session has ended; sign in again.']);
});

renderSignIn();
