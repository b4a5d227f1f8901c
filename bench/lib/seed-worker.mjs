// P5 growth: fills a stopped server's SQLite store up to <target> devices, straight through
// better-sqlite3 in large transactions (the API would take hours for 1 M). Rows are clones of
// rows the API wrote (template user and device, by id), so every column — the JSON in `extra`,
// the sealed fields left null, the defaults — is what the server itself writes; only ids,
// usernames and times change. Seeded users get 5 devices each (the default maxAllowedDevices),
// so the users table grows with the devices as it would in a real store.
// argv: <sqlite file> <environment id> <template user id> <template device id> <target devices>
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';

const [file, envId, userId, deviceId, targetText] = process.argv.slice(2);
const target = Number(targetText);
const PER_USER = 5;
const BATCH_USERS = 10_000;

const db = new Database(file);
// Seeding only: the server re-applies WAL + synchronous=FULL when it opens the file.
db.pragma('synchronous = OFF');
db.pragma('cache_size = -262144');
const user = db.prepare('select * from users where id = ? and environment_id = ?').get(userId, envId);
const device = db.prepare('select * from devices where id = ? and environment_id = ?').get(deviceId, envId);
if (!user || !device) throw new Error('template user or device not found');
const have = db.prepare('select count(*) as n from devices').get().n;

const cols = (row) => Object.keys(row);
const insertOf = (table, row) => db.prepare(`insert into ${table} (${cols(row).join(', ')}) values (${cols(row).map((c) => '@' + c).join(', ')})`);
const insertUser = insertOf('users', user);
const insertDevice = insertOf('devices', device);

const users = Math.ceil(Math.max(0, target - have) / PER_USER);
let made = 0;
let at = Date.now() - 86_400_000;
const batch = db.transaction((n, start) => {
  for (let u = 0; u < n; u++) {
    const id = randomUUID();
    at += 1;
    insertUser.run({ ...user, id, username: `seed-${start + u}`, email: `seed-${start + u}@example.com`, created_at: at, updated_at: at });
    for (let d = 0; d < PER_USER && made < target - have; d++) {
      at += 1;
      insertDevice.run({ ...device, id: randomUUID(), user_id: id, created_at: at, updated_at: at, activated_at: at });
      made++;
    }
  }
});
const t0 = performance.now();
for (let start = 0; start < users; start += BATCH_USERS) batch(Math.min(BATCH_USERS, users - start), start);
db.pragma('wal_checkpoint(TRUNCATE)');
const total = db.prepare('select count(*) as n from devices').get().n;
db.close();
process.stdout.write(JSON.stringify({ users, devices: made, total, seconds: (performance.now() - t0) / 1000 }) + '\n');
