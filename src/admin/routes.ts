/**
 * OpenMFA's own administration API, under /openmfa/v1/ (not PingOne's namespace, and not in
 * /openapi.json, which documents the PingOne API), for the bootstrap administrator only
 * (access.ts):
 *
 *   POST   /openmfa/v1/reset                      {"empty"?: boolean} → 204
 *   POST   /openmfa/v1/snapshots                  → 201 {id, createdAt}
 *   POST   /openmfa/v1/snapshots/{id}/restore     → 204; 404 when there is no such snapshot
 *   DELETE /openmfa/v1/snapshots/{id}             → 204; 404
 *   GET    /openmfa/v1/clock                      → 200 {now, mode}
 *   PUT    /openmfa/v1/clock                      {"now": ISO 8601} → 200 {now, mode}
 *   POST   /openmfa/v1/clock/advance              {"by": ISO 8601 duration} → 200 {now, mode}
 *
 * With `--clock system` GET answers the system time and PUT and advance 409 REQUEST_FAILED
 * (target `clock`): the request is well formed, the server's state refuses it.
 */
import { Type } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { clockNotManual, invalidValue, notFound } from '../http/errors.js';
import { NoContent, Timestamp, errorResponses } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { validateBody } from '../http/validation.js';
import { bootstrapAdministratorOnly } from './access.js';
import { StoredClock } from './clock.js';
import { parseDuration } from './duration.js';
import { reset } from './reset.js';
import { deleteSnapshot, restoreSnapshot, takeSnapshot } from './snapshots.js';
import { registerSharedState } from './state.js';

export const ADMIN_PREFIX = '/openmfa/v1';

const ResetBody = Type.Object({ empty: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const SetClockBody = Type.Object({ now: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const AdvanceBody = Type.Object({ by: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
const ClockSchema = Type.Object({ now: Timestamp, mode: Type.Union([Type.Literal('system'), Type.Literal('manual')]) });
const SnapshotSchema = Type.Object({ id: Type.String(), createdAt: Timestamp });
const SnapshotParams = Type.Object({ id: Type.String() });

const ERRORS = errorResponses(400, 401, 403, 404, 409, 415);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** An instant with its offset: `2026-02-17T13:34:34Z`, `…34.840+01:00`. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

const route = { hide: true, tags: ['openmfa'] } as const;

export function registerAdminRoutes(app: App, ctx: Context): void {
  registerSharedState(app, ctx);
  const clockBody = () => ({ now: iso(ctx.clock.now()), mode: ctx.clock instanceof StoredClock ? 'manual' as const : 'system' as const });
  const manualClock = (): StoredClock => {
    if (!(ctx.clock instanceof StoredClock)) throw clockNotManual();
    return ctx.clock;
  };
  const snapshotId = (id: string): string => {
    if (!UUID.test(id)) throw notFound();
    return id;
  };

  app.post(`${ADMIN_PREFIX}/reset`, {
    schema: { ...route, summary: 'Back to the initial snapshot, or to the bootstrap alone', response: { 204: NoContent, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async (request, reply) => {
    const body = validateBody(ResetBody, request.body ?? {});
    if (!(await reset(ctx, body.empty === undefined ? {} : { empty: body.empty }))) throw notFound();
    return reply.code(204).send(null);
  });

  app.post(`${ADMIN_PREFIX}/snapshots`, {
    schema: { ...route, summary: 'A snapshot of the whole state', response: { 201: SnapshotSchema, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async (request, reply) => {
    validateBody(Type.Object({}, { additionalProperties: false }), request.body ?? {});
    const taken = await takeSnapshot(ctx);
    return reply.code(201).send({ id: taken.id, createdAt: iso(taken.createdAt) });
  });

  app.post(`${ADMIN_PREFIX}/snapshots/:id/restore`, {
    schema: { ...route, summary: 'Restore a snapshot', params: SnapshotParams, response: { 204: NoContent, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async (request, reply) => {
    if (!(await restoreSnapshot(ctx, snapshotId(request.params.id)))) throw notFound();
    return reply.code(204).send(null);
  });

  app.delete(`${ADMIN_PREFIX}/snapshots/:id`, {
    schema: { ...route, summary: 'Delete a snapshot', params: SnapshotParams, response: { 204: NoContent, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async (request, reply) => {
    if (!(await deleteSnapshot(ctx, snapshotId(request.params.id)))) throw notFound();
    return reply.code(204).send(null);
  });

  app.get(`${ADMIN_PREFIX}/clock`, {
    schema: { ...route, summary: 'The server time and whether it is under API control', response: { 200: ClockSchema, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async () => clockBody());

  app.put(`${ADMIN_PREFIX}/clock`, {
    schema: { ...route, summary: 'Set the manual clock (forward only)', response: { 200: ClockSchema, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async (request) => {
    const clock = manualClock();
    const { now } = validateBody(SetClockBody, request.body ?? {});
    const ms = INSTANT.test(now) ? Date.parse(now) : Number.NaN;
    if (!Number.isFinite(ms) || ms < 0) throw invalidValue('now', 'now must be an ISO 8601 date and time with an offset, such as 2026-02-17T13:34:34Z');
    if (!(await clock.set(ms))) throw invalidValue('now', `now must not be before the clock's time, ${iso(clock.now())}: the clock only moves forward`, 'OUT_OF_RANGE', { rangeMinimumValue: iso(clock.now()) });
    return clockBody();
  });

  app.post(`${ADMIN_PREFIX}/clock/advance`, {
    schema: { ...route, summary: 'Move the manual clock on', response: { 200: ClockSchema, ...ERRORS } },
    preValidation: bootstrapAdministratorOnly,
  }, async (request) => {
    const clock = manualClock();
    const { by } = validateBody(AdvanceBody, request.body ?? {});
    const duration = parseDuration(by);
    if (!duration.ok) throw invalidValue('by', `by ${duration.reason}`);
    await clock.advance(duration.ms);
    return clockBody();
  });
}
