import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/**
 * Every Lambda API answer carries `x-amzn-RequestId`, as AWS's do (the SDK reports it as
 * `$metadata.requestId`); an answer that names its request already (Invoke, errors) keeps it.
 */
export const addRequestIds = (fastify: FastifyInstance): void => {
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('x-amzn-RequestId')) reply.header('x-amzn-RequestId', randomUUID());
    done(null, payload);
  });
};
