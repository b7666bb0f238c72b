import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LAMBDA_LIMITS } from '@tributary/contracts';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/**
 * Refuses an Invoke whose declared body is over the sync limit before the body is read: the
 * service's body limit is sized for CreateFunction (about 70 MB), and an invoke has no use for
 * that much. (The exact per-type limit is checked again once the body is in.)
 */
@Injectable()
export class InvokeSizeMiddleware implements NestMiddleware {
  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const declared = Number(req.headers['content-length'] ?? 0);
    // Within the limit, or beyond the service's own body limit (Fastify refuses that at once).
    if (declared <= LAMBDA_LIMITS.syncPayloadBytes || declared > LAMBDA_LIMITS.codeRequestBytes) return next();
    const limit = req.headers['x-amz-invocation-type'] === 'Event' ? LAMBDA_LIMITS.asyncPayloadBytes : LAMBDA_LIMITS.syncPayloadBytes;
    // Answered here (exception filters do not see middleware), once the body has been read and
    // dropped: a client still sending would otherwise see a reset instead of the answer.
    const error = new LambdaError(LambdaErrorType.RequestTooLarge, `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
    const { headers, body } = error.render();
    req.on('end', () => res.writeHead(error.status, headers).end(body));
    req.resume();
  }
}
