import type { FastifyInstance, FastifyRequest } from 'fastify';
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
 * Requires a valid SigV4 signature on every request but the open ones. A hook after the body is
 * read, since the signature covers it, and before any controller, so an unsigned call reaches
 * nothing behind the service.
 */
export const requireSignatures = (fastify: FastifyInstance, verifier: SigV4Verifier, options: SignatureHookOptions): void => {
  fastify.addHook('preHandler', async (request, reply) => {
    if (options.open(request)) return;
    try {
      const accessKeyId = await verifier.verify({ method: request.method, url: request.url, headers: request.headers, ...(Buffer.isBuffer(request.body) ? { body: request.body } : {}) });
      signedBy.set(request.raw, accessKeyId);
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      const { status, headers, body } = options.refuse(error, request);
      return reply.code(status).headers(headers).send(body);
    }
  });
};
