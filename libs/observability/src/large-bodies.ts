import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** How much of an oversized body is read (and dropped) to answer it; a larger one is cut off at once. */
export const DRAIN_LIMIT_BYTES = 256 * 1024 * 1024;

/**
 * Reads a request body to its end and drops it, so that the answer sent after it reaches a
 * client that is still sending (answer and close early, and the client sees a reset). Past
 * `limit` bytes the connection is cut instead: not worth reading for ever.
 */
export const dropBody = (request: IncomingMessage, limit = DRAIN_LIMIT_BYTES): Promise<void> =>
  new Promise((resolve) => {
    let dropped = 0;
    request.on('data', (chunk: Buffer) => {
      dropped += chunk.byteLength;
      if (dropped > limit) request.destroy();
    });
    request.on('end', resolve);
    request.on('close', resolve);
  });

/** An answer in the service's own protocol. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Answers a request whose declared Content-Length `refuse` turns down, before Fastify reads it,
 * after reading the body to its end: a server that answers and closes while the client is still
 * writing makes the client see a reset (Node's fetch and the JS SDKs an EPIPE) instead of the
 * answer, and an SDK retries that. A declared body over DRAIN_LIMIT_BYTES is not worth reading
 * and is left to Fastify's own refusal. A Fastify hook, not Nest middleware: the services run
 * without middie, and a hook costs nothing on the routes it lets through.
 */
export const refuseLargeBodies = (fastify: FastifyInstance, refuse: (request: FastifyRequest, declared: number) => Refusal | undefined): void => {
  fastify.addHook('onRequest', (request, reply, done) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    const refusal = declared > 0 && declared <= DRAIN_LIMIT_BYTES ? refuse(request, declared) : undefined;
    if (!refusal) return done();
    void dropBody(request.raw).then(() => reply.code(refusal.status).headers(refusal.headers).send(refusal.body));
  });
};
