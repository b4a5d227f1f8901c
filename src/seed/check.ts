/**
 * A seed file's value, checked before anything is read from or written to the store: its
 * schema (format.ts) with every problem named by its JSON path (`environments[0].users[1]
 * .devices[3].secret`), and the rule every stored string follows (http/text.ts).
 */
import { invalidValue } from '../http/errors.js';
import { textProblemAt, textProblemMessage } from '../http/text.js';
import { validateBody } from '../http/validation.js';
import { SeedFile } from './format.js';

export function checkSeed(value: unknown): SeedFile {
  const bad = textProblemAt(value);
  if (bad !== undefined) throw invalidValue(bad.path || 'seed', textProblemMessage(bad.path || 'the seed', bad.problem));
  return validateBody(SeedFile, value, 'seed');
}
