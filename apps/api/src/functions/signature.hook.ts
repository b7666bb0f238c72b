import type { FastifyInstance } from 'fastify';
import { SigV4Error, type SigV4Failure, type SigV4Verifier } from '@tributary/auth';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/** The Lambda API's words for each way a signature fails, as AWS answers them. */
const ERROR_TYPE: Record<SigV4Failure, LambdaErrorType> = {
  missing: LambdaErrorType.MissingAuthenticationToken,
  malformed: LambdaErrorType.IncompleteSignature,
  'unknown-key': LambdaErrorType.UnrecognizedClient,
  scope: LambdaErrorType.InvalidSignature,
  expired: LambdaErrorType.InvalidSignature,
  mismatch: LambdaErrorType.InvalidSignature,
};

/** Routes a scraper or load balancer calls unsigned. */
const OPEN = /^\/(?:health|metrics)\/?(?:\?|$)/;

/**
 * Every Lambda API call must be signed (SigV4) by one of the configured access keys. A hook
 * after the body is read, since the signature covers it; before any controller, so an unsigned
 * call reaches neither the registry nor NATS.
 */
export const requireSignatures = (fastify: FastifyInstance, verifier: SigV4Verifier): void => {
  fastify.addHook('preHandler', async (request, reply) => {
    if (request.method === 'GET' && OPEN.test(request.url)) return;
    try {
      await verifier.verify({ method: request.method, url: request.url, headers: request.headers, ...(Buffer.isBuffer(request.body) ? { body: request.body } : {}) });
    } catch (error) {
      if (!(error instanceof SigV4Error)) throw error;
      const refusal = new LambdaError(ERROR_TYPE[error.failure], error.message);
      const { headers, body } = refusal.render();
      return reply.code(refusal.status).headers(headers).send(body);
    }
  });
};
