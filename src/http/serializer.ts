/**
 * Fastify's serializerCompiler, lazily: a route's response schema is compiled by
 * fast-json-stringify (what Fastify uses by default) the first time that route answers with
 * that status, not at start-up. Compiling all of them eagerly was most of start-up's CPU
 * (≈1.6 s of 3.4 s in a profile of `serve` to its first /health); each one costs a few
 * milliseconds once, on its first response.
 */
import fastJsonStringify from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify';

export const serializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  let serialize: ((data: unknown) => string) | undefined;
  return (data: unknown) => (serialize ??= fastJsonStringify(schema as Parameters<typeof fastJsonStringify>[0]))(data);
};
