/**
 * A child process for test/store/writer-thread.test.ts: opens a Store on the file given, then
 * writes rows 20 at a time without end, printing each row's key on stdout once its write has
 * resolved (stdout to a pipe is synchronous on Linux: a printed key reached the parent before
 * any kill). The parent kills it with SIGKILL and checks that every printed key is in the file.
 */
import { sql } from 'kysely';
import { Store } from '../../src/store/db.js';

const store = Store.open({ sqlitePath: process.argv[2]! });
await sql`create table if not exists acked (k text primary key, v text not null)`.execute(store.db);
process.stdout.write('ready\n');
for (let n = 0; ; ) {
  await Promise.all(Array.from({ length: 20 }, () => {
    const k = `k${n++}`;
    return sql`insert into acked (k, v) values (${k}, ${'x'.repeat(64)})`.execute(store.db).then(() => process.stdout.write(`${k}\n`));
  }));
}
