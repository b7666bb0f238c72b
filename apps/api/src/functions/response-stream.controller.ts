import { PassThrough } from 'node:stream';
import { Controller, Inject, Post, Res } from '@nestjs/common';
import { EventStreamCodec } from '@smithy/core/event-streams';
import type { FastifyReply } from 'fastify';
import { InvokeInputOf } from './invoke-input.decorator.js';
import { LATEST } from '@tributary/contracts';
import { InvokeService, type InvokeAnswer, type InvokeInput } from './invoke.service.js';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/** ResponseStreamingInvocationType: InvokeWithResponseStream has no asynchronous form. */
const STREAM_INVOCATION_TYPES = ['RequestResponse', 'DryRun'] as const;

/** Payload bytes per PayloadChunk event. */
const CHUNK_BYTES = 64 * 1024;

/** What the answer's stream holds for a slow caller before it tells the function to wait. */
const STREAM_BUFFER_BYTES = 256 * 1024;

const EVENT_STREAM = 'application/vnd.amazon.eventstream';

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

/** Bytes as PayloadChunk events of up to CHUNK_BYTES each. */
const payloadChunks = (bytes: Uint8Array): Uint8Array[] => {
  const events: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) events.push(event('PayloadChunk', 'application/octet-stream', bytes.subarray(at, at + CHUNK_BYTES)));
  return events;
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

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/**
 * InvokeWithResponseStream (`POST /2021-11-15/functions/{name}/response-streaming-invocations`):
 * the answer as an AWS event stream, `PayloadChunk` events and then one `InvokeComplete` carrying
 * the function's error and the Tail log. The invocation takes the same path as Invoke and its
 * checks. A streaming handler's bytes are sent as it writes them: the answer (200) begins with
 * its first bytes, and a failure after them can only end the stream (InvokeComplete's
 * ErrorCode), as on AWS. A handler that does not stream is answered with its whole result.
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
    let stream: PassThrough | undefined;
    // While the caller reads slower than the function writes, the stream has no room: the
    // pieces are acknowledged once it has drained, and the function is held back meanwhile.
    let room: Promise<void> | undefined;
    const onChunk = (chunk: Uint8Array, requestId: string): Promise<void> | false | undefined => {
      if (!stream) {
        stream = new PassThrough({ highWaterMark: STREAM_BUFFER_BYTES });
        stream.on('error', () => undefined); // a caller gone mid-stream: the invocation runs on
        void reply.status(200).headers({ 'x-amzn-RequestId': requestId, 'X-Amz-Executed-Version': LATEST, 'content-type': EVENT_STREAM }).send(stream);
      }
      const out = stream;
      if (out.destroyed) return false;
      let full = false;
      for (const e of payloadChunks(chunk)) full = !out.write(e) || full;
      if (!full) return undefined;
      room ??= new Promise<void>((resolve) => {
        const go = (): void => {
          out.off('drain', go).off('close', go);
          room = undefined;
          resolve();
        };
        out.on('drain', go).on('close', go);
      });
      return room;
    };
    let answer: InvokeAnswer;
    try {
      answer = await this.invoker.invoke({ ...input, invocationType: type, onChunk });
    } catch (error) {
      if (!stream) throw error;
      // The answer has begun: an error can only end it. A throttle here means the function ran
      // but never finished answering in time: the service's failure, not a throttle.
      const failure =
        error instanceof LambdaError && error.type !== LambdaErrorType.TooManyRequests
          ? { ErrorCode: error.type, ErrorDetails: error.message }
          : { ErrorCode: LambdaErrorType.Service, ErrorDetails: 'The stream did not end before the service stopped waiting for it.' };
      stream.end(event('InvokeComplete', 'application/json', json(failure)));
      return reply;
    }
    const headers = { ...answer.headers };
    const functionError = headers['X-Amz-Function-Error'];
    const logResult = headers['X-Amz-Log-Result'];
    // Invoke's are headers; here the error and the log travel in InvokeComplete.
    for (const name of ['X-Amz-Function-Error', 'X-Amz-Log-Result', 'content-type']) delete headers[name];
    if (answer.statusCode !== 200 && !stream) return reply.status(answer.statusCode).headers(headers).send();
    const payload = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : (answer.body ?? Buffer.alloc(0));
    const events = functionError ? [] : payloadChunks(payload);
    const complete = { ...(functionError ? errorOf(payload) : {}), ...(logResult ? { LogResult: logResult } : {}) };
    events.push(event('InvokeComplete', 'application/json', json(complete)));
    if (stream) {
      const last = events.pop() as Uint8Array;
      for (const e of events) stream.write(e);
      stream.end(last);
      return reply;
    }
    return reply
      .status(200)
      .headers({ ...headers, 'content-type': EVENT_STREAM })
      .send(Buffer.concat(events));
  }
}
