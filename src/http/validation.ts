/**
 * The one validation engine: TypeBox's compiler checks route parts (the Fastify
 * validatorCompiler in app.ts) and bodies checked inside handlers (checkBody), and its errors
 * become PingOne's INVALID_DATA details (reference §7.3): one detail per bad field, `target`
 * the field's path.
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { TLocalizedValidationError } from 'typebox/error';
import { invalidData, type ApiError, type ErrorDetail } from './errors.js';

type SchemaError = TLocalizedValidationError;

/** `/a/0/b` → `a[0].b`; PingOne targets read like property paths. */
function toTarget(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

const unknownProperty = (target: string): ErrorDetail => ({ code: 'INVALID_VALUE', target, message: `${target} is not a recognised property here` });

function detailsFor(e: SchemaError, context: string): ErrorDetail[] {
  const p = e.params as Record<string, unknown>;
  // The compiler names every extra and every missing property in one error.
  if (e.keyword === 'additionalProperties') {
    return (p.additionalProperties as string[]).map((n) => unknownProperty(toTarget(e.instancePath, String(n))));
  }
  // …and also reports each extra one as `additionalProperties: false` failing: said above.
  if (e.keyword === 'boolean' && e.schemaPath.endsWith('additionalProperties')) return [];
  if (e.keyword === 'required') {
    return (p.requiredProperties as string[]).map((n) => {
      const target = toTarget(e.instancePath, String(n));
      return { code: 'REQUIRED_VALUE', target, message: `${target} is required` };
    });
  }
  const d = detailFor(e, context);
  return d ? [d] : [];
}

function detailFor(e: SchemaError, context: string): ErrorDetail | undefined {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'minLength':
      if (p.limit === 1) {
        const target = toTarget(e.instancePath);
        return { code: 'EMPTY_VALUE', target, message: `${target} must not be empty` };
      }
      break;
    case 'maxLength': {
      const target = toTarget(e.instancePath);
      return { code: 'SIZE_LIMIT_EXCEEDED', target, message: `${target} must be at most ${String(p.limit)} characters`, innerError: { maximumValue: p.limit } };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const target = toTarget(e.instancePath);
      const bound = e.keyword.endsWith('inimum') ? 'rangeMinimumValue' : 'rangeMaximumValue';
      return { code: 'OUT_OF_RANGE', target, message: `${target} ${e.message ?? 'is out of range'}`, innerError: { [bound]: p.limit } };
    }
    case 'enum': {
      const target = toTarget(e.instancePath);
      return { code: 'INVALID_VALUE', target, message: `${target} must be one of ${(p.allowedValues as unknown[]).join(', ')}`, innerError: { allowedValues: p.allowedValues } };
    }
    case 'const': {
      const target = toTarget(e.instancePath);
      return { code: 'INVALID_VALUE', target, message: `${target} must be ${JSON.stringify(p.allowedValue)}`, innerError: { allowedValues: [p.allowedValue] } };
    }
    case 'pattern': {
      const target = toTarget(e.instancePath);
      return { code: 'INVALID_VALUE', target, message: `${target} has an invalid format`, innerError: { allowedPattern: p.pattern } };
    }
    case 'anyOf':
    case 'oneOf':
    case 'if':
      return undefined; // the branch errors beside it say what is wrong
    default:
      break;
  }
  const target = toTarget(e.instancePath) || context;
  return { code: 'INVALID_VALUE', target, message: `${target} ${e.message ?? 'is invalid'}` };
}

export function validationError(errors: readonly SchemaError[], context: string): ApiError {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const e of errors) {
    for (const d of detailsFor(e, context)) {
      const key = `${d.target}|${d.code}`;
      if (seen.has(key)) continue;
      seen.add(key);
      details.push(d);
    }
  }
  if (details.length === 0) details.push({ code: 'INVALID_VALUE', target: context, message: `the ${context} is invalid` });
  return invalidData(...details);
}

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();

function compiledFor(schema: TSchema): ReturnType<typeof Compile> {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  return validator;
}

/**
 * JSON the server wrote itself, read back: checked against its schema rather than cast, so a
 * row that does not hold what the code expects is a fault (500, logged), never a wrong answer.
 */
export function parseStored<S extends TSchema>(schema: S, text: string, what: string): Static<S> {
  const value: unknown = JSON.parse(text);
  if (!compiledFor(schema).Check(value)) throw new Error(`the stored ${what} does not match its schema`);
  return value as Static<S>;
}

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/**
 * Checks a value and says what is wrong as a value: for actions whose checks must come after
 * the resource's own (protocol §1.3: 404 and state before the body), and for callers that
 * count a bad body as a failed attempt.
 */
export function checkBody<S extends TSchema>(schema: S, value: unknown, context = 'body'): BodyCheck<Static<S>> {
  const validator = compiledFor(schema);
  if (validator.Check(value)) return { ok: true, value: value as Static<S> };
  return { ok: false, error: validationError(validator.Errors(value), context) };
}

export function validateBody<S extends TSchema>(schema: S, value: unknown, context = 'body'): Static<S> {
  const checked = checkBody(schema, value, context);
  if (!checked.ok) throw checked.error;
  return checked.value;
}

/**
 * Fastify's validatorCompiler: route params, query and bodies (per media type too) are
 * checked by the same compiler as checkBody, and a failure is the catalogue's INVALID_DATA
 * itself (Fastify passes an Error through, or attaches it for `attachValidation` routes).
 * Nothing is coerced, defaulted or removed: a value is accepted as sent or refused.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const context = httpPart ?? 'body';
  // Compiled on the route's first request, not at start-up (as serializer.ts does for responses).
  let validator: ReturnType<typeof Compile> | undefined;
  return (value: unknown) => {
    validator ??= compiledFor(schema);
    return validator.Check(value) ? true : { error: validationError(validator.Errors(value), context) };
  };
};
