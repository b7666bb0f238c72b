import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { InvokeInput } from './invoke.service.js';

type InvokeRequest = FastifyRequest<{ Params: { name: string }; Querystring: { Qualifier?: string } }>;

/**
 * What an invoke call says, from its path, query, headers and raw body: Invoke and
 * InvokeWithResponseStream take the same members.
 */
export const InvokeInputOf = createParamDecorator((_data: unknown, context: ExecutionContext): InvokeInput => {
  const request = context.switchToHttp().getRequest<InvokeRequest>();
  const header = (name: string) => request.headers[name] as string | undefined;
  return {
    functionName: request.params.name,
    qualifier: request.query.Qualifier,
    invocationType: header('x-amz-invocation-type'),
    logType: header('x-amz-log-type'),
    clientContext: header('x-amz-client-context'),
    body: request.body as Buffer | undefined,
  };
});
