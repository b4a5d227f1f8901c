/**
 * The log's two forms: JSON lines for machines (a pipe, a file: the default there), and
 * pino-pretty's for a person (the default on a terminal). Both carry the same redacted object.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/app.js';
import { LogCapture } from '../helper.js';

test('pretty: a person-readable line (level, message, fields), no JSON, and what is redacted stays out', () => {
  const capture = new LogCapture();
  const log = createLogger({ logLevel: 'info' }, capture, true);
  log.info({ req: { method: 'GET', url: '/v1/x?otp=493027', headers: { authorization: 'Bearer sekrit-token' } } }, 'request completed');
  const text = capture.text;
  assert.match(text, /INFO.*request completed/);
  assert.equal(text.trimStart().startsWith('{'), false, 'not JSON');
  assert.match(text, /GET/);
  assert.equal(text.includes('493027'), false, 'the otp query value is redacted');
  assert.equal(text.includes('sekrit-token'), false, 'the authorization header is removed');
});

test('JSON: one object per line when a stream is given and pretty is not asked for', () => {
  const capture = new LogCapture();
  createLogger({ logLevel: 'info' }, capture).info({ a: 1 }, 'hello');
  assert.deepEqual(capture.lines.map((l) => { const { level, msg, a } = JSON.parse(l); return { level, msg, a }; }), [{ level: 30, msg: 'hello', a: 1 }]);
});
