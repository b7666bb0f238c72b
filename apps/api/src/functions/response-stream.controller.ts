import { Controller, Inject, Post, Res } from '@nestjs/common';
import { EventStreamCodec } from '@smithy/core/event-streams';
import type { FastifyReply } from 'fastify';
import { InvokeInputOf } from './invoke-input.decorator.js';
import { InvokeService, type InvokeInput } from './invoke.service.js';
import { LambdaError } from './lambda-error.js';

/** ResponseStreamingInvocationType: InvokeWithResponseStream has no asynchronous form. */
const STREAM_INVOCATION_TYPES = ['RequestResponse', 'DryRun'] as const;

/** Payload bytes per PayloadChunk event. */
const CHUNK_BYTES = 64 * 1024;

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

const event = (type: 'PayloadChunk' | 'InvokeComplete', contentType: string, body: Uint8Array): Uint8Array => {
  const message: Parameters<EventStreamCodec['encode']>[0] = {
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: contentType },
    },
    body,
  };
  return codec.encode(message);
};

/** The error a failed invocation's payload describes, as InvokeComplete's ErrorCode and ErrorDetails. */
const errorOf = (payload: Buffer): { ErrorCode: string; ErrorDetails: string } => {
  try {
    const error = JSON.parse(payload.toString('utf8')) as { errorType?: unknown; errorMessage?: unknown };
    return { ErrorCode: String(error.errorType ?? 'Unhandled'), ErrorDetails: String(error.errorMessage ?? '') };
  } catch {
    return { ErrorCode: 'Unhandled', ErrorDetails: payload.toString('utf8') };
  }
};

/**
 * InvokeWithResponseStream (`POST /2021-11-15/functions/{name}/response-streaming-invocations`):
 * the answer as an AWS event stream, `PayloadChunk` events and then one `InvokeComplete` carrying
 * the function's error and the Tail log. The invocation takes the same path as Invoke and its
 * checks; the stream is sent once the function has answered, as the runtime collects a streaming
 * handler's output whole (bytes are not forwarded as the handler writes them).
 */
@Controller()
export class ResponseStreamController {
  constructor(@Inject(InvokeService) private readonly invoker: InvokeService) {}

  @Post('2021-11-15/functions/:name/response-streaming-invocations')
  async invoke(@InvokeInputOf() input: InvokeInput, @Res() reply: FastifyReply) {
    const type = input.invocationType ?? 'RequestResponse';
    if (!(STREAM_INVOCATION_TYPES as readonly string[]).includes(type)) {
      throw LambdaError.validation([
        { path: 'invocationType', value: type, constraints: [`Member must satisfy enum value set: [${STREAM_INVOCATION_TYPES.join(', ')}]`] },
      ]);
    }
    const answer = await this.invoker.invoke({ ...input, invocationType: type });
    const headers = { ...answer.headers };
    const functionError = headers['X-Amz-Function-Error'];
    const logResult = headers['X-Amz-Log-Result'];
    // Invoke's are headers; here the error and the log travel in InvokeComplete.
    for (const name of ['X-Amz-Function-Error', 'X-Amz-Log-Result', 'content-type']) delete headers[name];
    if (answer.statusCode !== 200) return reply.status(answer.statusCode).headers(headers).send();
    const payload = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : (answer.body ?? Buffer.alloc(0));
    const events: Uint8Array[] = [];
    if (!functionError) {
      for (let at = 0; at < payload.byteLength; at += CHUNK_BYTES) {
        events.push(event('PayloadChunk', 'application/octet-stream', payload.subarray(at, at + CHUNK_BYTES)));
      }
    }
    const complete = { ...(functionError ? errorOf(payload) : {}), ...(logResult ? { LogResult: logResult } : {}) };
    events.push(event('InvokeComplete', 'application/json', Buffer.from(JSON.stringify(complete), 'utf8')));
    return reply
      .status(200)
      .headers({ ...headers, 'content-type': 'application/vnd.amazon.eventstream' })
      .send(Buffer.concat(events));
  }
}
