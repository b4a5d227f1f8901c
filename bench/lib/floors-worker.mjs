// The non-HTTP floors of the quality bar, in their own process (both are synchronous loops):
//   t_verify — import a P-256 public JWK and verify one ES256 signature with node:crypto.
//     Every attestation carries a fresh key, so the import is part of the floor: each
//     iteration imports a key object from JWK text it has not seen as a KeyObject before.
//   C_commit — single-row commits per second into a SQLite file with the shipped durability
//     (src/store/db.ts: journal_mode=WAL, synchronous=FULL), in a directory on the disk the
//     server's data dir is on.
// argv: <dir for the SQLite file> <seconds for C_commit>. Prints one JSON line.
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';

const [dir, secondsText] = process.argv.slice(2);
const seconds = Number(secondsText);

// t_verify: 256 distinct keys and signed messages, cycled; warm up, then time.
const samples = [];
for (let i = 0; i < 256; i++) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = JSON.stringify(publicKey.export({ format: 'jwk' }));
  const data = Buffer.from(`eyJhbGciOiJFUzI1NiJ9.${'x'.repeat(600)}${i}`);
  samples.push({ jwk, data, sig: sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }) });
}
const once = (s) => {
  const key = createPublicKey({ key: JSON.parse(s.jwk), format: 'jwk' });
  if (!verify('sha256', s.data, { key, dsaEncoding: 'ieee-p1363' }, s.sig)) throw new Error('verify failed');
};
for (let i = 0; i < 500; i++) once(samples[i % samples.length]);
const N = 5000;
let t = performance.now();
for (let i = 0; i < N; i++) once(samples[i % samples.length]);
const tVerifyMs = (performance.now() - t) / N;

// C_commit
const db = new Database(path.join(dir, 'commit.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('create table t (id text primary key, body text not null, at integer not null)');
const insert = db.prepare('insert into t (id, body, at) values (?, ?, ?)');
const body = JSON.stringify({ pad: 'x'.repeat(180) });
for (let i = 0; i < 50; i++) insert.run(`w${i}`, body, Date.now());
let commits = 0;
t = performance.now();
const end = t + seconds * 1000;
while (performance.now() < end) {
  insert.run(`c${commits}`, body, Date.now());
  commits++;
}
const cCommit = commits / ((performance.now() - t) / 1000);
db.close();
process.stdout.write(JSON.stringify({ tVerifyMs, cCommit, commits }) + '\n');
