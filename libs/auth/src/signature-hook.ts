import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SigV4Error, type SigV4Verifier } from './sigv4.js';

export interface SignatureHookOptions {
  /** Requests that need no signature (health checks, metrics, a webhook with its own token). */
  open: (request: FastifyRequest) => boolean;
  /** The refusal in the service's own protocol. */
  refuse: (error: SigV4Error, request: FastifyRequest) => { status: number; headers: Record<string, string>; body: string };
}

/** An unsigned body is dropped as it arrives, but not for ever: past this the connection is cut. */
const DROP_LIMIT_BYTES = 256 * 1024 * 1024;

/** The access key each verified request was signed with (keyed by Node's request, `request.raw`). */
export const signedBy = new WeakMap<object, string>();

/**
 * Requires a valid SigV4 signature on every request but the open ones, in two steps. Before the
 * body is read (`onRequest`), what the headers alone show: a request without a signature of a
 * known key, in scope and in time, is answered at once and its body dropped as it arrives, never
 * kept. After it is read (`preHandler`), the signature itself, which covers the body; before any
 * controller, so an unsigned call reaches nothing behind the service.
 */
export const requireSignatures = (fastify: FastifyInstance, verifier: SigV4Verifier, options: SignatureHookOptions): void => {
  const refuse = (error: SigV4Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { status, headers, body } = options.refuse(error, request);
    return reply.code(status).headers(headers).send(body);
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    if (options.open(request)) return done();
    try {
      verifier.precheck({ method: request.method, url: request.url, headers: request.headers });
    } catch (error) {
      if (!(error instanceof SigV4Error)) return done(error as Error);
      // Answered once the body has gone by, so that a client still sending sees the answer.
      let dropped = 0;
      request.raw.on('data', (chunk: Buffer) => {
        dropped += chunk.byteLength;
        if (dropped > DROP_LIMIT_BYTES) request.raw.destroy();
      });
      request.raw.on('end', () => void refuse(error, request, reply));
      return;
    }
    done();
  });
  fastify.addHook('preHandler', async (request, reply) => {
    if (options.open(request)) return;
    try {
      const accessKeyId = await verifier.verify({ method: request.method, url: request.url, headers: request.headers, ...(Buffer.isBuffer(request.body) ? { body: request.body } : {}) });
      signedBy.set(request.raw, accessKeyId);
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      return refuse(error, request, reply);
    }
  });
};
