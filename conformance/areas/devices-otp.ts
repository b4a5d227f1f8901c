/**
 * EMAIL, SMS, VOICE and WHATSAPP devices (reference §2.3, §5, §6): created ACTIVE by an
 * administrator, the lifecycle actions, activation with a wrong code and — with an OTP source —
 * the right one, and test devices whose code comes back as `test.otp` (EMAIL, SMS, VOICE).
 */
import { documentedOrder, made, type Area, type Run } from '../runner.js';
import { commonShape, createDevice, CT, deviceUrl, lifecycle, SMS_ORDER, wrongOtp } from '../devices.js';
import { otherCode } from '../otp.js';

type OtpType = 'EMAIL' | 'SMS' | 'VOICE' | 'WHATSAPP';
const TEST_MODE: readonly OtpType[] = ['EMAIL', 'SMS', 'VOICE'];
/** 555-01xx numbers are reserved for fiction: nothing is ever delivered to them. */
const PHONE: Record<Exclude<OtpType, 'EMAIL'>, string> = { SMS: '+14135550150', VOICE: '+14135550151', WHATSAPP: '+14135550152' };


function otpArea(type: OtpType): Area {
  const address = (run: Run, suffix: string): Record<string, string> =>
    type === 'EMAIL' ? { email: `${run.tag}-${suffix}@example.com` } : { phone: PHONE[type] };
  return {
    name: `devices.${type.toLowerCase()}`,
    async run(run) {
      const { client } = run;
      const userId = await run.newUser(type.toLowerCase());

      const created = await createDevice(run, userId, { type, ...address(run, 'active') });
      run.check(`POST …/devices {type: ${type}} → 201`, 201, created.status);
      if (!made(created)) return;
      commonShape(run, 'created by an administrator', created.json, userId, type, 'ACTIVE');
      const [field, value] = Object.entries(address(run, 'active'))[0]!;
      run.check(`${field} as sent`, value, created.json[field]);
      const blocked = await lifecycle(run, userId, created.json);
      if (type === 'SMS') {
        const order = documentedOrder(SMS_ORDER, blocked);
        run.check('key order of the block answer (PingOne\'s SMS example)', order.expected, order.got);
      }

      // Activation: a code is sent on create with ACTIVATION_REQUIRED (reference §5).
      const pending = await createDevice(run, userId, { type, ...address(run, 'pending'), status: 'ACTIVATION_REQUIRED' });
      run.check('POST …/devices {status: ACTIVATION_REQUIRED} → 201', 201, pending.status);
      if (!made(pending)) return;
      commonShape(run, 'awaiting activation', pending.json, userId, type, 'ACTIVATION_REQUIRED');
      const url = deviceUrl(run, userId, pending.json.id);
      const source = run.options.otpSource;
      const request = { deviceId: pending.json.id, type, recipient: value };
      const sent = source ? await source.read(request) : undefined;
      wrongOtp(run, 'activate with a wrong code → 400', await client.call('POST', url, { body: { otp: otherCode(sent === undefined ? [] : [sent]) }, contentType: CT.activate }));
      const resent = await client.call('POST', url, { contentType: CT.sendActivationCode });
      run.check('sendActivationCode → 200, still ACTIVATION_REQUIRED', '200 ACTIVATION_REQUIRED', `${resent.status} ${resent.json?.status}`);
      if (source) {
        const code = await source.read(request);
        const active = await client.call('POST', url, { body: { otp: code }, contentType: CT.activate });
        run.check(`activate with the code from ${source.name} → 200 ACTIVE`, '200 ACTIVE', `${active.status} ${active.json?.status}`);
        run.check('no _links.activate once ACTIVE', undefined, active.json?._links?.activate);
        const twice = await client.call('POST', url, { body: { otp: code }, contentType: CT.activate });
        run.check('activating an ACTIVE device again (the same code) → 400', 400, twice.status);
      } else {
        run.notApplicable('activate with the code sent → 200 ACTIVE', '200 ACTIVE', 'no --otp-source');
      }

      if (!TEST_MODE.includes(type)) return;
      const test = await createDevice(run, userId, { type, ...address(run, 'test'), testMode: true, status: 'ACTIVATION_REQUIRED' });
      run.check('a test device (testMode) → 201, testMode true', '201 true', `${test.status} ${test.json?.testMode}`);
      const code = test.json?.test?.otp;
      run.holds('the test device\'s code is in test.otp', 'a string of digits', code, typeof code === 'string' && /^\d{6,10}$/.test(code));
      if (!made(test)) return;
      const testUrl = deviceUrl(run, userId, test.json.id);
      const active = await client.call('POST', testUrl, { body: { otp: code }, contentType: CT.activate });
      run.check('activate the test device with test.otp → 200 ACTIVE', '200 ACTIVE', `${active.status} ${active.json?.status}`);
    },
  };
}

export const emailDevices = otpArea('EMAIL');
export const smsDevices = otpArea('SMS');
export const voiceDevices = otpArea('VOICE');
export const whatsAppDevices = otpArea('WHATSAPP');
