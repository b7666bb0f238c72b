import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LAMBDA_LIMITS } from '@tributary/contracts';
import { DRAIN_LIMIT_BYTES, refuseLargeBodies } from '@tributary/observability';
import { LambdaError, LambdaErrorType, eventPayloadTooLarge } from './lambda-error.js';

/** Invoke and InvokeWithResponseStream. */
const INVOKE_PATH = /^\/(?:2015-03-31\/functions\/[^/?]+\/invocations|2021-11-15\/functions\/[^/?]+\/response-streaming-invocations)\/?(?:\?|$)/;

const isInvoke = (request: FastifyRequest): boolean => request.method === 'POST' && INVOKE_PATH.test(request.url);

/** The operation a request over the service's body limit was for, as AWS names it in its answer. */
const operationOf = (request: FastifyRequest): string | undefined =>
  request.method === 'POST' && /^\/2015-03-31\/functions\/?(?:\?|$)/.test(request.url)
    ? 'CreateFunction'
    : request.method === 'PUT' && /^\/2015-03-31\/functions\/[^/?]+\/code\/?(?:\?|$)/.test(request.url)
      ? 'UpdateFunctionCode'
      : undefined;

/** `size`: the body's, where it is known (declared, or counted to its end). */
const tooLarge = (request: FastifyRequest, size?: number): LambdaError => {
  const event = request.headers['x-amz-invocation-type'] === 'Event';
  if (event && size !== undefined) return eventPayloadTooLarge(size, LAMBDA_LIMITS.asyncPayloadBytes);
  const limit = event ? LAMBDA_LIMITS.asyncPayloadBytes : LAMBDA_LIMITS.syncPayloadBytes;
  return new LambdaError(LambdaErrorType.RequestTooLarge, `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
};

/** Any other request over the service's body limit, as AWS words it. */
const overServiceLimit = (request: FastifyRequest): LambdaError => {
  const operation = operationOf(request);
  return new LambdaError(
    LambdaErrorType.RequestEntityTooLarge,
    operation ? `Request must be smaller than ${LAMBDA_LIMITS.codeRequestBytes} bytes for the ${operation} operation` : 'Request must be smaller than the limit for this operation',
  );
};

/**
 * Keeps an Invoke from holding more than the sync payload limit, before its body is read: the
 * service's body limit is sized for CreateFunction (about 70 MB), and an invoke has no use for
 * that much. A declared Content-Length over the limit is answered at once; a chunked body is
 * counted as it arrives and dropped past the limit. Either way the body is read to its end before
 * the answer, so that a client still sending sees the answer rather than a reset; a chunked body
 * that goes on past DRAIN_LIMIT_BYTES is cut off there. The exact per-type limit is checked
 * again once the body is in (see refuseLargeBodies for the draining). A request of any kind over
 * the service's body limit is drained the same way and answered RequestEntityTooLargeException.
 */
export const limitInvokeBodies = (fastify: FastifyInstance): void => {
  refuseLargeBodies(fastify, (request, declared) => {
    const refusal =
      declared > LAMBDA_LIMITS.syncPayloadBytes && isInvoke(request) ? tooLarge(request, declared)
      : declared > LAMBDA_LIMITS.codeRequestBytes ? overServiceLimit(request)
      : undefined;
    return refusal?.render();
  });
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    if (request.headers['content-length'] !== undefined || !isInvoke(request)) return done(null, payload);
    let received = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, next) {
        received += chunk.byteLength;
        // Drained to its end for a clean answer, but not for ever.
        if (received > DRAIN_LIMIT_BYTES) return next(tooLarge(request));
        next(null, received <= LAMBDA_LIMITS.syncPayloadBytes ? chunk : undefined);
      },
      flush(next) {
        next(received > LAMBDA_LIMITS.syncPayloadBytes ? tooLarge(request, received) : null);
      },
    });
    payload.on('error', (error) => counted.destroy(error));
    done(null, payload.pipe(counted));
  });
};
