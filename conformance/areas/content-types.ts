/**
 * Content-Type dispatch (reference §3, §3.6, §11.1): one URL, one action per media type; a media
 * type a route does not take is 415 INVALID_REQUEST and changes nothing.
 */
import { envelope, made, type Area } from '../runner.js';
import { createDevice, CT, deviceUrl, devicesUrl } from '../devices.js';

export const contentTypes: Area = {
  name: 'content-types',
  async run(run) {
    const { client } = run;
    const userId = await run.newUser('media');
    const withCharset = await client.call('POST', devicesUrl(run, userId), { body: { ...run.policyRef(), type: 'SMS', phone: '+14135550153' }, contentType: 'application/json; charset=UTF-8' });
    run.check('application/json; charset=UTF-8 on a create → 201', 201, withCharset.status);
    if (made(withCharset)) run.remember('SMS device', deviceUrl(run, userId, withCharset.json.id));
    const other = await createDevice(run, userId, { type: 'EMAIL', email: `${run.tag}-media@example.com` });
    if (!made(withCharset) || !made(other)) {
      run.check('two devices to dispatch on', '201 201', `${withCharset.status} ${other.status}`);
      return;
    }
    const [a, b] = [withCharset.json.id as string, other.json.id as string];
    const url = deviceUrl(run, userId, a);
    const before = await client.call('GET', url);

    const unknown = await client.call('POST', url, { contentType: 'application/vnd.pingidentity.device.shred+json' });
    run.check('an unknown action media type → 415 INVALID_REQUEST', '415 INVALID_REQUEST', envelope(unknown).split(' ').slice(0, 2).join(' '));
    const plain = await client.call('POST', url, { body: {}, contentType: 'text/plain' });
    run.check('text/plain on a device → 415 INVALID_REQUEST', '415 INVALID_REQUEST', envelope(plain).split(' ').slice(0, 2).join(' '));
    const vndNickname = await client.call('PUT', `${url}/nickname`, { body: { nickname: 'x' }, contentType: CT.block });
    run.check('PUT …/nickname takes application/json only → 415', 415, vndNickname.status);
    const after = await client.call('GET', url);
    run.check('refused media types change nothing', before.json, after.json);

    const reordered = await client.call('POST', devicesUrl(run, userId), { body: { order: [{ id: b }, { id: a }] }, contentType: CT.reorder });
    run.check('devices.reorder on the collection → 200 with the order', { status: 200, order: [{ id: b }, { id: a }] }, { status: reordered.status, order: reordered.json?.order });
    const list = await client.call('GET', devicesUrl(run, userId));
    run.check('the list follows the order', [b, a], (list.json?._embedded?.devices ?? []).map((d: { id: string }) => d.id));
    run.holds('the list links devices.reorder', 'a link to the collection', list.json?._links?.['devices.reorder']?.href,
      list.json?._links?.['devices.reorder']?.href === devicesUrl(run, userId));
    const expanded = await client.call('GET', `${devicesUrl(run, userId)}?expand=order`);
    run.holds('expand=order → 200', '200', expanded.status, expanded.status === 200);
    const removed = await client.call('POST', devicesUrl(run, userId), { contentType: CT.removeOrder });
    run.holds('devices.order.remove on the collection → 200 or 204', '200 or 204', removed.status, removed.status === 200 || removed.status === 204);
    const badOrder = await client.call('POST', devicesUrl(run, userId), { body: { order: [{ id: a }, { id: a }] }, contentType: CT.reorder });
    run.check('a reorder naming a device twice → 400 INVALID_DATA', '400 INVALID_DATA', envelope(badOrder).split(' ').slice(0, 2).join(' '));
  },
};
