/** The README-only suite under node:test (scenario.ts holds the tests). */
import { after, before, beforeEach, test } from 'node:test';
import { setUp, TESTS, type Suite } from './scenario.js';

let s: Suite;
before(async () => { s = await setUp(); });
beforeEach(async () => { await s.mfa.restore(s.clean); });
after(async () => { await s.mfa.stop(); });

for (const [name, run] of TESTS) test(name, () => run(s));
