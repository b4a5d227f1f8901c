/**
 * Collections: `limit`, `size`, `_links.next` with an opaque `cursor`, followed verbatim until
 * the last page (reference §7.2), on the run's own users.
 */
import type { Area } from '../runner.js';

export const paging: Area = {
  name: 'paging',
  async run(run) {
    const { client } = run;
    const made = [];
    for (const n of [1, 2, 3]) made.push(await run.newUser(`page-${n}`));
    const filter = new URLSearchParams({ filter: `username sw "${run.tag}-page-"`, limit: '1' });
    let url: string | undefined = client.env(`/users?${filter}`);
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursors = 0;
    for (let page = 0; url !== undefined && page < 10; page++) {
      const reply = await client.call('GET', url);
      if (reply.status !== 200) { run.check(`page ${page + 1} → 200`, 200, reply.status); return; }
      if (page === 0) run.holds('_links.self', 'a link', reply.json?._links?.self?.href, typeof reply.json?._links?.self?.href === 'string');
      for (const u of reply.json?._embedded?.users ?? []) seen.push(u.id);
      sizes.push(reply.json?.size);
      const next = reply.json?._links?.next?.href;
      if (typeof next === 'string' && new URL(next).searchParams.has('cursor')) cursors++;
      url = typeof next === 'string' ? next : undefined;
    }
    run.check('limit=1: one user a page, size 1', [1, 1, 1], sizes);
    run.check('_links.next carries a cursor on every page but the last', 2, cursors);
    run.check('following _links.next gives every user once', [...made].sort(), [...seen].sort());
    const all = await client.call('GET', client.env(`/users?${new URLSearchParams({ filter: `username sw "${run.tag}-page-"` })}`));
    run.check('without limit: one page, no _links.next', { size: 3, next: undefined }, { size: all.json?.size, next: all.json?._links?.next });
  },
};
