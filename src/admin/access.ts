/**
 * The rule of every /openmfa/v1/ route: the bootstrap administrator application only (the one
 * that manages every environment, platform/bootstrap.ts). The access hook has already answered
 * 401 for a missing, bad or expired token; any other application — another environment's
 * administrator included — gets 403 before its body is looked at, and nothing happens.
 *
 * The threat: a tenant's own worker application wiping or rewinding every tenant's data
 * (reset, restore), reading all of it back out (a snapshot holds every environment), or moving
 * time to expire others' codes and locks — an escalation from one environment to the platform.
 */
import type { FastifyRequest } from 'fastify';
import { callerOf } from '../http/access.js';
import { administratorOnly } from '../http/errors.js';

export async function bootstrapAdministratorOnly(request: FastifyRequest): Promise<void> {
  if (!callerOf(request).managesAll) throw administratorOnly();
}
