/**
 * Turns JSON-schema validation errors (Ajv, as Fastify reports them) into PingOne's
 * INVALID_DATA details: one detail per bad field, `target` the field's path.
 */
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { invalidData, type ApiError, type ErrorDetail } from './errors.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/a/0/b` → `a[0].b`; PingOne targets read like property paths. */
function toTarget(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

const unknownProperty = (target: string): ErrorDetail => ({ code: 'INVALID_VALUE', target, message: `${target} is not a recognised property here` });

function detailsFor(e: AjvError, context: string): ErrorDetail[] {
  const p = e.params;
  // Ajv names one extra property; TypeBox's compiler names them all.
  if (e.keyword === 'additionalProperties') {
    const names = Array.isArray(p.additionalProperties) ? p.additionalProperties : [p.additionalProperty];
    return names.map((n) => unknownProperty(toTarget(e.instancePath, String(n))));
  }
  if (e.keyword === 'boolean' && e.schemaPath?.endsWith('additionalProperties')) return [unknownProperty(toTarget(e.instancePath))];
  // Likewise Ajv names one missing property, TypeBox all of them.
  if (e.keyword === 'required') {
    const names = Array.isArray(p.requiredProperties) ? p.requiredProperties : [p.missingProperty];
    return names.map((n) => {
      const target = toTarget(e.instancePath, String(n));
      return { code: 'REQUIRED_VALUE', target, message: `${target} is required` };
    });
  }
  const d = detailFor(e, context);
  return d ? [d] : [];
}

function detailFor(e: AjvError, context: string): ErrorDetail | undefined {
  const p = e.params;
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

export function validationError(errors: AjvError[], context: string): ApiError {
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

/**
 * Validates a body inside a handler, for actions whose checks must come after the resource's
 * own (protocol §1.3: 404 and state before the body). Compiled once per schema.
 */

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();

export type BodyCheck<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** Checks a body and says what is wrong as a value (for callers that count a bad body as a failed attempt). */
export function checkBody<S extends TSchema>(schema: S, value: unknown, context = 'body'): BodyCheck<Static<S>> {
  let validator = compiled.get(schema);
  if (!validator) {
    validator = Compile(schema);
    compiled.set(schema, validator);
  }
  if (validator.Check(value)) return { ok: true, value: value as Static<S> };
  return { ok: false, error: validationError([...validator.Errors(value)] as AjvError[], context) };
}

export function validateBody<S extends TSchema>(schema: S, value: unknown, context = 'body'): Static<S> {
  const checked = checkBody(schema, value, context);
  if (!checked.ok) throw checked.error;
  return checked.value;
}
