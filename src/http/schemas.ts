/**
 * Building blocks shared by the route schemas. One schema per resource serves validation,
 * serialization (undeclared fields are dropped, so nothing secret leaks by accident), the
 * TypeScript type and /openapi.json.
 */
import type { SwaggerTransform } from '@fastify/swagger';
import { Type, type TObject, type TSchema, type TUnsafe } from 'typebox';

export const Link = Type.Object({ href: Type.String() });
export const Links = Type.Record(Type.String(), Link);
export const Ref = Type.Object({ id: Type.String() });
export const IdRef = (description?: string) =>
  Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false, ...(description ? { description } : {}) });
export const Timestamp = Type.String({ format: 'date-time' });

export const TIME_UNITS = ['SECONDS', 'MINUTES', 'HOURS', 'DAYS'] as const;
export const Duration = (units: readonly string[] = TIME_UNITS, max = 100_000) =>
  Type.Object({
    duration: Type.Integer({ minimum: 0, maximum: max }),
    timeUnit: Type.Enum(units),
  }, { additionalProperties: false });

export const ErrorDetailSchema = Type.Object({
  code: Type.String(),
  target: Type.Optional(Type.String()),
  message: Type.String(),
  innerError: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const ErrorSchema = Type.Object({
  id: Type.String(),
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Array(ErrorDetailSchema)),
});

/** PingOne collection: `_links`, `_embedded.<name>`, `count`, `size`. */
export const Collection = (name: string, item: TSchema) =>
  Type.Object({
    _links: Links,
    _embedded: Type.Object({ [name]: Type.Array(item) }),
    count: Type.Optional(Type.Integer()),
    size: Type.Integer(),
  });

export const PageQuery = {
  limit: Type.Optional(Type.String({ description: 'page size' })),
  cursor: Type.Optional(Type.String({ description: 'opaque cursor from a next/prev link' })),
};

export const EnvParams = Type.Object({ envId: Type.String() });

/** Standard error responses every authenticated management route may give. */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, ErrorSchema]));

export const STD_ERRORS = [400, 401, 403, 404, 415, 429] as const;

/** 204: Fastify sends no body whatever the payload. */
export const NoContent = Type.Null({ description: 'No Content' });

/** The same schema with nothing required, recursively (see `responseForm`). */
function relaxed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(relaxed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'required' || k === 'additionalProperties') continue;
    if (k === 'properties' && v !== null && typeof v === 'object') {
      // Member names are kept whatever they are (a member may be called `required`).
      out[k] = Object.fromEntries(Object.entries(v).map(([name, member]) => [name, relaxed(member)]));
    } else {
      out[k] = k === 'enum' || k === 'const' ? v : relaxed(v);
    }
  }
  return out;
}

/**
 * The response form of an input schema: the same declared members (so the serializer, which
 * writes only declared members, drops anything else a stored row may hold), none of them
 * required (a row written before a member existed still serializes instead of failing).
 */
export const responseForm = <T extends TSchema>(schema: T): TUnsafe<unknown> => Type.Unsafe<unknown>(relaxed(schema) as Record<string, unknown>);

/** Actions such as block take no body or `{}` (reference §3.2). */
export const EmptyBody = Type.Object({}, { additionalProperties: false, description: 'No body, or {}' });

/**
 * A POST that is several operations chosen by Content-Type (reference §11.1): each media type's
 * body, for /openapi.json and the fuzzer — documented, not validated by the route. The protocol
 * checks the resource (404, state, an attempt reserved) before the body (protocol §1.3), so each
 * action checks its body itself, once, at its place in that order, with the same schema and
 * engine (http/validation.ts checkBody). Spread into the route's `config`.
 */
export const documentedBodies = (bodies: Readonly<Record<string, TSchema>>): { swaggerTransform: SwaggerTransform } => {
  const body = { content: Object.fromEntries(Object.entries(bodies).map(([type, schema]) => [type, { schema }])) };
  return { swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, body }, url }) };
};

/** What every resource's GET shows and no client writes: ignored in a PUT or PATCH body (`replaceBody`). */
export const READ_ONLY_MEMBERS = ['_links', '_embedded', 'id', 'environment', 'createdAt', 'updatedAt'] as const;

/**
 * The body of a PUT or PATCH: the input schema, plus the resource's read-only members (the
 * common ones and `extra`), each declared `readOnly` and of any value. A client that reads a
 * resource, changes it and sends it back (SDKs, Terraform) is answered as if it had left them
 * out — http/validation.ts drops them, the one place of that rule — while any other member the
 * input does not declare is still 400 naming it. Typed as the input: the handler never sees them.
 */
export function replaceBody<T extends TObject>(input: T, extra: readonly string[] = []): T {
  const readOnly = Object.fromEntries([...READ_ONLY_MEMBERS, ...extra].map((name) =>
    [name, Type.Optional(Type.Unknown({ readOnly: true, description: 'read-only: accepted and ignored' }))]));
  return Type.Object({ ...input.properties, ...readOnly }, { additionalProperties: false }) as unknown as T;
}

/**
 * A response schema whose members are written in the order it declares them. The serializer
 * (fast-json-stringify) writes required members before optional ones, which would put a
 * device's `nickname` after `updatedAt` and a user's `_embedded` after everything required;
 * PingOne's examples interleave them (clients compare the text). So the response
 * form declares no member required — the handler's object says what is there.
 */
export function inOrder<T extends TObject>(schema: T): T {
  const { required: _required, ...rest } = schema as T & { required?: unknown };
  void _required;
  return rest as unknown as T;
}
