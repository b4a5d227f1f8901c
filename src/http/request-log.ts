/**
 * Per-request logging: one line per response at `info` — reqId (bound by Fastify), method,
 * URL, client address, status and time — where Fastify writes two (incoming and completed).
 * The incoming line moves to `debug`, for following a request that never finishes.
 *
 * Why: pino serialises and writes every line synchronously on the request's own turn of the
 * event loop, and at `info` the two lines were the largest cost of an authenticated GET after
 * the database (quality bar P1). One line per response keeps an access log and halves that.
 * Headers and bodies are never logged (tokens, secrets): the `req` serializer takes method,
 * URL, host and address only, and app.ts redacts the header paths besides.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
