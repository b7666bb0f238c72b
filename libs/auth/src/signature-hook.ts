import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dropBody } from '@tributary/observability';
import { SigV4Error, type SigV4Verifier } from './sigv4.js';

export interface SignatureHookOptions {
  /** Requests that need no signature (health checks, metrics, a webhook with its own token). */
  open: (request: FastifyRequest) => boolean;
  /** The refusal in the service's own protocol. */
  refuse: (error: SigV4Error, request: FastifyRequest) => { status: number; headers: Record<string, string>; body: string };
}

/** The access key each verified request was signed with (keyed by Node's request, `request.raw`). */
export const signedBy = new WeakMap<object, string>();

/**
 * Requires a valid SigV4 signature on every request but the open ones. Before the body is read
 * (`onRequest`), all the headers allow: the signature itself when the client signed the body's
 * hash (the JS SDK, S3 clients) or sent no body, else its form, key, scope and date. A request
 * refused there is answered once its body has gone by, dropped as it arrives, never kept, so a
 * stranger, even one who knows a key id, cannot make the service hold a body. After the body
 * is read (`preHandler`): the body against its signed hash, or the whole signature for clients
 * that sign the body itself (botocore); before any controller, so an unsigned call reaches
 * nothing behind the service.
 */
export const requireSignatures = (fastify: FastifyInstance, verifier: SigV4Verifier, options: SignatureHookOptions): void => {
  const logger = new Logger('Signatures');
  const refuse = (error: SigV4Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    // At debug: a client with the wrong clock or region shows here; a flood of strangers does not fill the log.
    logger.debug(`refused ${request.method} ${request.url.split('?')[0] ?? ''} from ${request.ip}: ${error.failure}: ${error.message}`);
    const { status, headers, body } = options.refuse(error, request);
    return reply.code(status).headers(headers).send(body);
  };
  /** Requests whose signature was verified before their body came: only the body is left to check. */
  const verifiedEarly = new WeakSet<object>();
  fastify.addHook('onRequest', async (request, reply) => {
    if (options.open(request)) return;
    try {
      const accessKeyId = await verifier.verifyBeforeBody({ method: request.method, url: request.url, headers: request.headers });
      if (accessKeyId !== undefined) {
        signedBy.set(request.raw, accessKeyId);
        verifiedEarly.add(request.raw);
      }
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      await dropBody(request.raw);
      return refuse(error, request, reply);
    }
  });
  fastify.addHook('preHandler', async (request, reply) => {
    if (options.open(request)) return;
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    try {
      if (verifiedEarly.has(request.raw)) {
        verifier.checkBody(request, body);
        return;
      }
      const accessKeyId = await verifier.verify({ method: request.method, url: request.url, headers: request.headers, ...(body ? { body } : {}) });
      signedBy.set(request.raw, accessKeyId);
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      return refuse(error, request, reply);
    }
  });
};
