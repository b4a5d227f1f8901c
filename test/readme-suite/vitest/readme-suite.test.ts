/** The README-only suite under vitest (scenario.ts holds the tests). */
import { afterAll, beforeAll, beforeEach, test } from 'vitest';
import { setUp, TESTS, type Suite } from '../scenario.js';

let s: Suite;
beforeAll(async () => { s = await setUp(); });
beforeEach(async () => { await s.mfa.restore(s.clean); });
afterAll(async () => { await s.mfa.stop(); });

for (const [name, run] of TESTS) test(name, () => run(s));
