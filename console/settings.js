// The environment's MFA settings and its device authentication policies, as forms: each
// control edits one JSON path of the resource, and a save PUTs the whole resource back (both
// PUTs replace: what is left out returns to its default, so nothing is left out).
import { api, describeError, enc, relativeHref } from './api.js';
import { clearAlerts, h, keepTableRoles, showAlert, uid } from './dom.js';
import { bodyFrom, getAt, pathField } from './forms.js';
import { attempt, load, settingsTable } from './views.js';

const number = { kind: 'number' };
const checkbox = { kind: 'checkbox' };
const select = (...values) => ({ kind: 'select', options: values.map((v) => [v, v]) });

/** label, path, control: the MFA settings form, in reading order. */
const SETTINGS_FIELDS = [
  ['Most devices per user', 'pairing.maxAllowedDevices', number],
  ['Pairing key format', 'pairing.pairingKeyFormat', select('ALPHANUMERIC', 'NUMERIC')],
  ['Failures before lockout', 'lockout.failureCount', number],
  ['Lockout duration (seconds)', 'lockout.durationSeconds', number],
  ['Allow phone extensions (VOICE)', 'phoneExtensions.enabled', checkbox],
  ['MFA enabled for new users', 'users.mfaEnabled', checkbox],
  ['Device selection', 'authentication.deviceSelection', select('DEFAULT_TO_FIRST', 'PROMPT_TO_SELECT')],
];
/** What PUT …/mfaSettings takes; the rest of a GET (links, environment, updatedAt) is read-only. */
const SETTINGS_SECTIONS = ['pairing', 'lockout', 'phoneExtensions', 'users', 'authentication'];

const pick = (resource, keys) => Object.fromEntries(keys.filter((k) => resource?.[k] !== undefined).map((k) => [k, resource[k]]));

/**
 * A form headed `heading` of `specs` over `resource` (the `editable` members of it are sent
 * back), saved by `save(body)`; `saved(value)` redraws after a success; `extra(fields)` adds
 * more content, pushing its controls onto `fields`. Returns the form element.
 */
function resourceForm(ctx, { heading, noun, specs, resource, editable, submitLabel, save, saved, extra = () => [] }) {
  const fields = specs.filter(([, path]) => getAt(resource, path) !== undefined)
    .map(([label, path, control]) => pathField(label, path, getAt(resource, path), control));
  const submit = h('button', { type: 'submit' }, submitLabel);
  const titleId = uid('h');
  const extraFields = [];
  const form = h('form', { class: 'card', 'aria-labelledby': titleId, novalidate: true },
    h('h3', { id: titleId }, heading), fields.map((f) => f.row), extra(extraFields), h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const all = [...fields, ...extraFields];
    const got = await attempt(ctx, { status: `Saving ${noun}…`, box: form, buttons: [submit], alertAt: form, fields: all },
      () => save(bodyFrom(pick(resource, editable), all)));
    if (got) saved(got.value);
  });
  return form;
}

export async function renderMfaSettings(ctx) {
  const section = h('section', { 'aria-labelledby': 'view-title' }, h('h2', { id: 'view-title' }, 'MFA settings'));
  ctx.root.append(section);
  const path = `/v1/environments/${enc(ctx.envId)}/mfaSettings`;
  const draw = (settings) => {
    section.replaceChildren(section.firstChild,
      resourceForm(ctx, {
        heading: 'Settings', noun: 'the MFA settings', specs: SETTINGS_FIELDS, resource: settings, editable: SETTINGS_SECTIONS, submitLabel: 'Save MFA settings',
        save: (body) => api('PUT', path, { body }),
        saved: (value) => { draw(value); ctx.success('Saved the MFA settings.'); },
      }),
      h('details', {}, h('summary', {}, 'All settings'), settingsTable('MFA settings', settings)));
  };
  const settings = await load(ctx, 'Loading MFA settings…', () => api('GET', path));
  if (ctx.current()) draw(settings);
}

/** Policy sections by key, with how the console names them; only those a policy has are shown. */
const METHODS = [
  ['sms', 'SMS'], ['voice', 'Voice'], ['email', 'Email'], ['whatsApp', 'WhatsApp'], ['totp', 'TOTP'],
  ['mobile', 'Mobile'], ['fido2', 'FIDO2'], ['pingIdDesktopGen2', 'PingID Desktop'],
];
const UNITS = select('SECONDS', 'MINUTES');

/** A method's columns: header, then [label suffix, path under the section, control] for each control in the cell. */
const failure = (key) => (key === 'fido2' ? 'failure' : 'otp.failure');
const METHOD_COLUMNS = [
  ['Enabled', () => [['enabled', 'enabled', checkbox]]],
  ['Pairing disabled', () => [['pairing disabled', 'pairingDisabled', checkbox]]],
  ['Failures before lock', (key) => [['failures before lock', `${failure(key)}.count`, number]]],
  ['Cool-down', (key) => [['cool-down', `${failure(key)}.coolDown.duration`, number], ['cool-down unit', `${failure(key)}.coolDown.timeUnit`, UNITS]]],
  ['OTP lifetime', () => [['OTP lifetime', 'otp.lifeTime.duration', number], ['OTP lifetime unit', 'otp.lifeTime.timeUnit', UNITS]]],
];
/** What PUT …/deviceAuthenticationPolicies/{id} takes back from a GET. */
const POLICY_KEYS = ['name', 'default', 'authentication', 'newDeviceNotification', 'ignoreUserLock', 'forSignOnPolicy', ...METHODS.map(([k]) => k)];

/** One row per method of `policy`, each cell the method's controls that the policy has; they are pushed onto `fields`. */
function methodsTable(policy, fields) {
  const name = policy.name ?? policy.id;
  const rows = METHODS.filter(([key]) => policy[key]).map(([key, label]) => h('tr', {},
    h('th', { scope: 'row' }, label),
    METHOD_COLUMNS.map(([header, controls]) => {
      const here = controls(key).filter(([, path]) => getAt(policy[key], path) !== undefined)
        .map(([suffix, path, control]) => pathField(`${label} ${suffix}`, `${key}.${path}`, getAt(policy[key], path), { ...control, hideLabel: true, attrs: { size: 4 } }));
      fields.push(...here);
      return h('td', { 'data-label': header }, h('div', { class: 'cell-controls' }, here.map((f) => f.row)));
    })));
  return h('div', { class: 'table-wrap' }, keepTableRoles(h('table', { class: 'methods stack' },
    h('caption', {}, `Methods of ${name}`),
    h('thead', {}, h('tr', {}, ['Method', ...METHOD_COLUMNS.map(([header]) => header)].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows))));
}

/**
 * The `mobile` section's native applications (wave-2 reference §3.5), one row each: header, path
 * under the entry, control. A switch the entry lacks reads false, as the server reads it, so it
 * is always shown; the push timeout only when the entry has one (it needs its unit with it).
 */
const MOBILE_APP_COLUMNS = [
  ['Push', 'push.enabled', checkbox, true],
  ['Number matching', 'push.numberMatching.enabled', checkbox, true],
  ['Offline codes', 'otp.enabled', checkbox, true],
  ['Pairing disabled', 'pairingDisabled', checkbox, true],
  ['Push timeout (seconds)', 'pushTimeout.duration', number, false],
];

/** One row per native application of `policy.mobile.applications`, its controls pushed onto `fields`; nothing without any. */
function mobileApplicationsTable(policy, fields) {
  const apps = policy.mobile?.applications ?? [];
  if (apps.length === 0) return null;
  const rows = apps.map((app, i) => h('tr', {},
    h('th', { scope: 'row' }, h('code', {}, app.id)),
    MOBILE_APP_COLUMNS.map(([header, path, control, always]) => {
      const value = getAt(app, path);
      const here = always || value !== undefined
        ? [pathField(`Application ${app.id} ${header.toLowerCase()}`, `mobile.applications[${i}].${path}`, value, { ...control, hideLabel: true, attrs: { size: 4 } })]
        : [];
      fields.push(...here);
      return h('td', { 'data-label': header }, h('div', { class: 'cell-controls' }, here.map((f) => f.row)));
    })));
  return h('div', { class: 'table-wrap' }, keepTableRoles(h('table', { class: 'methods stack' },
    h('caption', {}, `Mobile applications of ${policy.name ?? policy.id}`),
    h('thead', {}, h('tr', {}, ['Application', ...MOBILE_APP_COLUMNS.map(([header]) => header)].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows))));
}

const POLICY_FIELDS = [
  ['Name', 'name', { attrs: { maxlength: 256 } }],
  ['Device selection', 'authentication.deviceSelection', select('DEFAULT_TO_FIRST', 'PROMPT_TO_SELECT', 'ALWAYS_DISPLAY_DEVICES')],
];

/** `redraw()` draws the whole view again: making a policy the default changes another's card too. */
function policyCard(ctx, policy, path, redraw) {
  const slot = h('article', { class: 'policy', 'data-policy': policy.id });
  const draw = (p) => {
    const form = resourceForm(ctx, {
      heading: p.name ?? p.id, noun: `the policy ${p.name ?? p.id}`, specs: POLICY_FIELDS, resource: p, editable: POLICY_KEYS, submitLabel: 'Save policy',
      save: (body) => api('PUT', `${path}/${enc(p.id)}`, { body }),
      saved: (value) => {
        if (value.default && !p.default) redraw(`Saved the policy ${value.name}; it is the default now.`);
        else { draw(value); ctx.success(`Saved the policy ${value.name}.`); }
      },
      extra: (fields) => [
        p.default ? h('p', {}, h('span', { class: 'badge' }, 'default'), ' This is the environment\'s default policy.') : (() => {
          const makeDefault = pathField('Make this the default policy', 'default', false, checkbox);
          fields.push(makeDefault);
          return makeDefault.row;
        })(),
        h('p', { class: 'hint' }, 'ID ', h('code', {}, p.id)),
        methodsTable(p, fields),
        mobileApplicationsTable(p, fields),
      ],
    });
    slot.replaceChildren(form);
  };
  draw(policy);
  return slot;
}

export async function renderPolicies(ctx, notice) {
  const section = h('section', { 'aria-labelledby': 'view-title' }, h('h2', { id: 'view-title' }, 'Device authentication policies'));
  ctx.root.append(section);
  const path = `/v1/environments/${enc(ctx.envId)}/deviceAuthenticationPolicies`;
  // The list is paged (at most 50 a page): follow _links.next, as for environments.
  const policies = [];
  await load(ctx, 'Loading policies…', async () => {
    let next = path;
    while (next) {
      const page = await api('GET', next);
      policies.push(...(page?._embedded?.deviceAuthenticationPolicies ?? []));
      next = relativeHref(page?._links?.next);
    }
  });
  if (!ctx.current()) return;
  const redraw = (text) => {
    section.remove();
    renderPolicies(ctx, text).catch((e) => { if (ctx.current()) showAlert(ctx.root, describeError(e)); });
  };
  if (policies.length === 0) section.append(h('p', {}, 'This environment has no device authentication policies.'));
  for (const policy of policies) section.append(policyCard(ctx, policy, path, redraw));
  if (notice) ctx.success(notice);
}
