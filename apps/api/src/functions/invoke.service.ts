import { isUtf8 } from 'node:buffer';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Histogram, type Registry } from 'prom-client';
import { INVOCATION_TYPES, LAMBDA_LIMITS, LATEST, LOG_TYPES, type LogType } from '@tributary/contracts';
import { InvocationClient, InvocationTimeoutError, type ChunkSink } from '@tributary/nats';
import { METRICS_REGISTRY } from '@tributary/observability';
import { FunctionsService } from './functions.service.js';
import { LambdaError, LambdaErrorType, eventPayloadTooLarge, throttled } from './lambda-error.js';

export const SYNC_QUEUE_WAIT_MS = Symbol('SYNC_QUEUE_WAIT_MS');

export interface InvokeInput {
  functionName: string;
  qualifier?: string;
  invocationType?: string;
  logType?: string;
  clientContext?: string;
  body: Buffer | undefined;
  /** InvokeWithResponseStream: takes a streaming handler's bytes as it writes them. */
  onChunk?: ChunkSink;
}

export interface InvokeAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** AWS: up to 3,583 bytes of base64 that decode to a JSON object. */
const checkClientContext = (value: string): void => {
  let valid = value.length <= 3583 && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
  if (valid) {
    try {
      const decoded = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as unknown;
      valid = typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded);
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new LambdaError(LambdaErrorType.InvalidRequestContent, 'Client context must be a valid Base64-encoded JSON object.');
};

/** The Invoke operation: checks that AWS makes before running anything, then the event bus. */
@Injectable()
export class InvokeService {
  private readonly logger = new Logger(InvokeService.name);
  private readonly invocations: Counter<'type' | 'outcome'>;
  private readonly latency: Histogram<'type'>;

  constructor(
    @Inject(FunctionsService) private readonly functions: FunctionsService,
    @Inject(InvocationClient) private readonly client: InvocationClient,
    @Inject(SYNC_QUEUE_WAIT_MS) private readonly syncQueueWaitMs: number,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.invocations = new Counter({
      name: 'tributary_api_invocations_total',
      help: 'Invoke calls answered by the Lambda API, by invocation type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'tributary_api_invoke_seconds',
      help: 'Time to answer an Invoke call',
      labelNames: ['type'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    });
  }

  async invoke(input: InvokeInput): Promise<InvokeAnswer> {
    const type = input.invocationType ?? 'RequestResponse';
    // Labels only from a closed set: a raw header value would mint a new series per request.
    const label = (INVOCATION_TYPES as readonly string[]).includes(type) ? type : 'invalid';
    const stop = this.latency.startTimer({ type: label });
    try {
      const answer = await this.run(input, type);
      this.invocations.inc({ type: label, outcome: answer.headers['X-Amz-Function-Error'] ? 'function_error' : 'ok' });
      return answer;
    } catch (error) {
      this.invocations.inc({ type: label, outcome: error instanceof LambdaError ? error.type : 'ServiceException' });
      throw error;
    } finally {
      stop();
    }
  }

  private async run(input: InvokeInput, type: string): Promise<InvokeAnswer> {
    if (!(INVOCATION_TYPES as readonly string[]).includes(type)) {
      throw LambdaError.validation([
        { path: 'invocationType', value: type, constraints: [`Member must satisfy enum value set: [${INVOCATION_TYPES.join(', ')}]`] },
      ]);
    }
    const logType = (input.logType ?? 'None') as LogType;
    if (!(LOG_TYPES as readonly string[]).includes(logType)) {
      throw LambdaError.validation([
        { path: 'logType', value: logType, constraints: [`Member must satisfy enum value set: [${LOG_TYPES.join(', ')}]`] },
      ]);
    }
    if (input.clientContext !== undefined) checkClientContext(input.clientContext);
    const { record, revision } = await this.functions.resolve(input.functionName, input.qualifier);
    const bytes = input.body ?? Buffer.alloc(0);
    const limit = type === 'Event' ? LAMBDA_LIMITS.asyncPayloadBytes : LAMBDA_LIMITS.syncPayloadBytes;
    if (bytes.byteLength > limit) {
      if (type === 'Event') throw eventPayloadTooLarge(bytes.byteLength, limit);
      throw new LambdaError(LambdaErrorType.RequestTooLarge, `Request must be smaller than ${limit} bytes for the InvokeFunction operation`);
    }
    // Decoding would turn invalid UTF-8 into U+FFFD and hand the function other data than was sent.
    if (!isUtf8(bytes)) {
      throw new LambdaError(LambdaErrorType.InvalidRequestContent, 'Could not parse request body into json: Could not parse payload into json: Invalid UTF-8 in the payload');
    }
    // An empty payload reaches the handler as `{}`, as on AWS.
    const payload = bytes.byteLength === 0 ? '{}' : bytes.toString('utf8');
    try {
      JSON.parse(payload);
    } catch (error) {
      throw new LambdaError(
        LambdaErrorType.InvalidRequestContent,
        `Could not parse request body into json: Could not parse payload into json: ${(error as Error).message}`,
      );
    }
    if (type === 'DryRun') return { statusCode: 204, headers: {} };

    // The handler is told the ARN it was invoked by: qualified when the caller named a qualifier.
    const invokedQualifier = input.qualifier ?? this.functions.parseName(input.functionName).qualifier;
    const request = {
      functionName: record.name,
      qualifier: LATEST,
      ...(invokedQualifier ? { invokedQualifier } : {}),
      functionRevision: revision,
      functionCreated: record.createdAt,
      payload,
      logType,
      // AWS hands the client context to synchronous invocations only (it is checked for any).
      ...(input.clientContext && type === 'RequestResponse' ? { clientContext: input.clientContext } : {}),
    };
    if (type === 'Event') {
      const requestId = await this.publishing(() => this.client.invokeAsync(request));
      return { statusCode: 202, headers: { 'x-amzn-RequestId': requestId } };
    }

    const waitMs = record.timeout * 1000 + this.syncQueueWaitMs;
    let reply;
    try {
      reply = await this.publishing(() => this.client.invokeSync(request, waitMs, input.onChunk));
    } catch (error) {
      if (error instanceof InvocationTimeoutError) {
        // Nothing picked the invocation up in time: AWS answers an over-capacity sync call with 429.
        throw throttled();
      }
      throw error;
    }
    if (reply.serviceError) {
      const { type, message } = reply.serviceError;
      if (type === LambdaErrorType.TooManyRequests) throw throttled();
      throw LambdaError.of(type, message);
    }
    const headers: Record<string, string> = {
      'x-amzn-RequestId': reply.requestId,
      'X-Amz-Executed-Version': reply.executedVersion,
      'content-type': 'application/json',
    };
    if (reply.functionError) headers['X-Amz-Function-Error'] = reply.functionError;
    if (reply.logResult) headers['X-Amz-Log-Result'] = reply.logResult;
    const result = await this.client.replyPayload(reply);
    // A streaming handler's bytes that are not text came as base64; the caller gets the bytes.
    return { statusCode: reply.statusCode, headers, body: reply.payloadEncoding === 'base64' ? Buffer.from(result, 'base64') : result };
  }

  /** Publishing failures (NATS down, stream missing) are the service's fault, not the caller's. */
  private async publishing<T>(publish: () => Promise<T>): Promise<T> {
    try {
      return await publish();
    } catch (error) {
      if (error instanceof InvocationTimeoutError || error instanceof LambdaError) throw error;
      this.logger.error(`could not publish invoke event: ${(error as Error).message}`);
      throw new LambdaError(LambdaErrorType.Service, 'The invocation could not be accepted right now; try again.');
    }
  }
}
