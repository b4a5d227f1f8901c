// "Authenticate" on a MOBILE device: a device authentication for its user with that device
// selected; while the push waits (PUSH_CONFIRMATION_REQUIRED) the number to pick on the phone
// when number matching is on (`numberMatching.number`), a form for the app's offline code
// (otp.check, mobile-protocol §3), and the flow read again every second until the server says
// how it ended: COMPLETED, FAILED (PUSH_REJECTED, PUSH_NUMBER_MISMATCH, …) or
// PUSH_CONFIRMATION_TIMED_OUT. The server's status decides; the browser's clock only paces the reads.
import { ApiError, api, describeError, enc } from './api.js';
import { clearAlerts, field, h, showAlert, uid } from './dom.js';

const POLL_MS = 1000;
const WAITING = new Set(['PUSH_CONFIRMATION_REQUIRED', 'OTP_REQUIRED']);
const CT = {
  select: 'application/vnd.pingidentity.device.select+json',
  otpCheck: 'application/vnd.pingidentity.otp.check+json',
};

/** The number-matching line: the number the phone offers among its choices. */
function numberLine(number) {
  const id = uid('n');
  return h('p', { class: 'push-number' }, h('span', { id }, 'Number to pick on the phone'), ' ', h('output', { 'aria-labelledby': id }, number));
}

/**
 * The ceremony's task (devices.js `ceremony`): `step(text, cls)` adds to the progress, `panel`
 * is the ceremony box's slot for the number and the code form (emptied when the flow ends).
 * Resolves to the success message; rejects with an ApiError naming how the flow ended otherwise;
 * resolves to undefined when the view was left meanwhile.
 */
export async function authenticatePhone(ctx, { user, device, step, panel }) {
  const flows = `/${enc(ctx.envId)}/deviceAuthentications`;
  step('Starting a device authentication');
  let flow = await api('POST', flows, { body: { user: { id: user.id } } });
  if (flow.selectedDevice?.id !== device.id || !WAITING.has(flow.status)) {
    step('Selecting this device');
    flow = await api('POST', `${flows}/${enc(flow.id)}`, { contentType: CT.select, body: { device: { id: device.id } } });
  }
  const flowPath = `${flows}/${enc(flow.id)}`;
  if (!WAITING.has(flow.status)) {
    throw new ApiError(0, 'UNEXPECTED_RESPONSE', `The device authentication is ${flow.status}, not waiting for the phone`);
  }

  // Read again every POLL_MS; an otp.check answer ends the wait at once.
  let answered;
  let wake = () => {};
  const pause = () => new Promise((resolve) => {
    const timer = setTimeout(resolve, POLL_MS);
    wake = () => { clearTimeout(timer); resolve(); };
  });

  const code = field('Code from the phone app', { name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 10, size: 10 });
  const check = h('button', { type: 'submit' }, 'Check code');
  const form = h('form', { class: 'inline-form', novalidate: true, 'aria-label': 'Offline code' }, code.row, check);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const otp = code.input.value.trim();
    if (!otp) {
      showAlert(form, 'Enter the code the phone app shows first.');
      return;
    }
    check.disabled = true;
    try {
      answered = await api('POST', flowPath, { contentType: CT.otpCheck, body: { otp } });
      wake();
    } catch (e) {
      // A wrong code counts against the device (docs/attempts.md); the push still waits.
      if (form.isConnected) showAlert(form, describeError(e));
    } finally {
      check.disabled = false;
    }
  });

  panel.replaceChildren(
    flow.numberMatching?.number ? numberLine(flow.numberMatching.number) : null,
    h('p', { class: 'hint' }, flow.status === 'OTP_REQUIRED'
      ? 'Enter the offline code the phone app shows.'
      : 'Approve or deny the push on the phone, or enter the offline code its app shows instead.'),
    form);
  step(flow.status === 'OTP_REQUIRED' ? 'Waiting for a code from the phone app' : 'Push sent to the phone: waiting for its answer');

  try {
    while (WAITING.has(flow.status)) {
      await pause();
      if (!ctx.current()) return undefined;
      flow = answered ?? await api('GET', flowPath);
    }
  } finally {
    wake = () => {};
    panel.replaceChildren();
  }
  const done = flow.status === 'COMPLETED';
  step(`Authentication is ${flow.status}`, done ? 'done' : 'failed');
  if (!done) {
    throw new ApiError(0, flow.error?.code ?? flow.status, flow.error?.message ?? {
      PUSH_CONFIRMATION_TIMED_OUT: 'The phone did not answer the push before it timed out',
    }[flow.status] ?? 'The device authentication did not complete');
  }
  return `Authenticated ${user.username} with ${device.nickname ?? device.id}: the device authentication is COMPLETED.`;
}
