import { Inject, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  INVOCATION_FORMAT,
  InvocationJobDto,
  LATEST,
  functionArn,
  validateDto,
  isSameFunction,
  type InvocationJob,
  type InvocationReply,
  type JobName,
  type LambdaIdentity,
} from '@tributary/contracts';
import { NatsClient, PayloadStore, ReplyChunks } from '@tributary/nats';
import { METRICS_REGISTRY } from '@tributary/observability';
import { FunctionRegistry, toFunctionSpec } from '@tributary/registry';
import { InvalidPackageError, SandboxPool, type InvokeResponse } from '@tributary/runtime';

export const WORKER_IDENTITY = Symbol('WORKER_IDENTITY');

/** Thrown for a failed async invocation so that BullMQ retries it with backoff. */
export class FunctionFailedError extends Error {
  constructor(functionName: string, requestId: string, errorType: string | undefined) {
    super(`function ${functionName} failed (${errorType ?? 'Unhandled'}) for request ${requestId}`);
    this.name = 'FunctionFailedError';
  }
}

/** The Lambda error a sync caller gets when the platform, not the function, failed the invocation. */
const platformError = (error: unknown): NonNullable<InvocationReply['serviceError']> =>
  error instanceof InvalidPackageError
    ? { type: 'InvalidZipFileException', statusCode: 502, message: `Lambda was unable to unzip the deployment package: ${error.message}` }
    : { type: 'ServiceException', statusCode: 500, message: 'The function could not be run because of an internal error; try again.' };

/** Runs one invocation job in a sandbox and answers a waiting caller. */
@Injectable()
export class InvocationProcessor {
  private readonly logger = new Logger(InvocationProcessor.name);
  private readonly invocations: Counter<'function' | 'function_error' | 'cold'>;
  private readonly duration: Histogram<'function'>;
  private readonly running: Gauge<'function'>;
  /** Sync invocations running now whose caller has had an answer. */
  private readonly answered = new Set<string>();

  constructor(
    @Inject(SandboxPool) private readonly pool: SandboxPool,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(NatsClient) private readonly nats: NatsClient,
    @Inject(PayloadStore) private readonly payloads: PayloadStore,
    @Inject(WORKER_IDENTITY) private readonly identity: LambdaIdentity,
    @Inject(METRICS_REGISTRY) metrics: Registry,
  ) {
    this.invocations = new Counter({
      name: 'tributary_worker_invocations_total',
      help: 'Invocations run by this worker, per function (AWS: Invocations, Errors)',
      labelNames: ['function', 'function_error', 'cold'],
      registers: [metrics],
    });
    this.duration = new Histogram({
      name: 'tributary_worker_invocation_duration_seconds',
      help: 'Duration of function invocations as in the REPORT line, per function (AWS: Duration)',
      labelNames: ['function'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 900],
      registers: [metrics],
    });
    this.running = new Gauge({
      name: 'tributary_worker_running_invocations',
      help: 'Invocations running in this worker now, per function (AWS: ConcurrentExecutions)',
      labelNames: ['function'],
      registers: [metrics],
    });
  }

  async process(job: Job<InvocationJob, unknown, JobName>): Promise<void> {
    const checked = validateDto(InvocationJobDto, job.data, { shallow: true });
    if (!checked.ok) throw new UnrecoverableError(`malformed job ${job.id}: ${checked.violations.map((v) => v.path).join(', ')}`);
    const data = job.data;
    // An async job that fails here is tried again by BullMQ. A sync one is tried once, and its
    // caller must hear why at once, not wait out the function's timeout and be told "throttled".
    if (!data.replyTo) return this.run(data);
    try {
      await this.run(data);
    } catch (error) {
      if (!this.answered.has(data.requestId)) {
        this.logger.error({ msg: 'sync invocation failed in the platform', requestId: data.requestId, error: (error as Error).stack ?? String(error) });
        const serviceError = platformError(error);
        this.reply(data, { statusCode: serviceError.statusCode, serviceError });
      }
      if (data.payloadRef) await this.payloads.delete(data.payloadRef).catch(() => undefined);
      throw error;
    } finally {
      this.answered.delete(data.requestId);
    }
  }

  private async run(data: InvocationJob): Promise<void> {
    if (data.deadline !== undefined && data.deadline < Date.now()) {
      // The sync caller has already been answered with a throttle error; running it now would surprise.
      this.logger.warn({ msg: 'sync invocation expired in the queue; dropped', requestId: data.requestId });
      if (data.payloadRef) await this.payloads.delete(data.payloadRef);
      return;
    }
    const entry = await this.registry.getFresh(data.functionName, data.functionRevision);
    if (!entry || !isSameFunction(entry.record, data.functionCreated)) {
      this.reply(data, {
        statusCode: 404,
        serviceError: {
          type: 'ResourceNotFoundException',
          statusCode: 404,
          message: `Function not found: ${functionArn(this.identity, data.functionName)}`,
        },
      });
      if (data.payloadRef) await this.payloads.delete(data.payloadRef);
      throw new UnrecoverableError(`function ${data.functionName} no longer exists`);
    }
    if (data.replyTo && data.deadline !== undefined && Date.now() > data.deadline - entry.record.timeout * 1000) {
      // Too late to start: a run to its timeout would end after its caller stops waiting, who
      // would be told the call was throttled (and whose SDK retries a 429) while it ran. AWS
      // does not queue sync calls; it throttles them. Answered now, not at the deadline.
      this.logger.warn({ msg: 'sync invocation waited past its budget in the queue; throttled', requestId: data.requestId });
      this.reply(data, { statusCode: 429, serviceError: { type: 'TooManyRequestsException', statusCode: 429, message: 'Rate Exceeded.' } });
      if (data.payloadRef) await this.payloads.delete(data.payloadRef);
      return;
    }
    const payload = await this.payloads.unpack(data);
    // A waiting caller is answered the moment the function responds; the log and the accounting
    // follow. With `Tail` the answer carries the log, so it waits for the complete log.
    let answered: Promise<void> | undefined;
    const answerEarly = data.replyTo !== undefined && data.logType !== 'Tail';
    // InvokeWithResponseStream: a streaming handler's bytes go to the caller as it writes them.
    const chunks = data.replyTo !== undefined && data.responseMode === 'streaming' ? new ReplyChunks(this.nats.nc, data.replyTo, data.streamWindow) : undefined;
    const running = this.running.labels({ function: data.functionName });
    running.inc();
    const outcome = await this.pool
      .invoke(toFunctionSpec(entry.record, this.identity), {
        requestId: data.requestId,
        payload,
        wantLogTail: data.logType === 'Tail',
        ...(data.clientContext ? { clientContext: data.clientContext } : {}),
        ...(data.invokedQualifier ? { invokedFunctionArn: functionArn(this.identity, data.functionName, data.invokedQualifier) } : {}),
        ...(chunks ? { onChunk: (chunk: Buffer) => chunks.send(chunk) } : {}),
        ...(answerEarly
          ? {
              onResponse: (response: InvokeResponse) => {
                answered = this.answer(data, response, chunks);
                answered.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
              },
            }
          : {}),
      })
      .finally(() => {
        running.dec();
        chunks?.close();
      });
    this.invocations.inc({ function: data.functionName, function_error: outcome.functionError ? 'true' : 'false', cold: outcome.coldStart ? 'true' : 'false' });
    this.duration.observe({ function: data.functionName }, outcome.durationMs / 1000);
    if (data.replyTo) {
      // Timeouts and crashes end the invocation without a response: they are answered here.
      await (answered ?? this.answer(data, outcome, chunks));
      // A sync invocation is never tried again: its claim-checked request is not needed any more.
      if (data.payloadRef) await this.payloads.delete(data.payloadRef);
      return;
    }
    if (outcome.functionError) throw new FunctionFailedError(data.functionName, data.requestId, outcome.errorType);
    if (data.payloadRef) await this.payloads.delete(data.payloadRef);
  }

  /** Sends the function's answer to the caller waiting on the job's reply subject. */
  private async answer(job: InvocationJob, response: InvokeResponse & { logTail?: string }, chunks?: ReplyChunks): Promise<void> {
    const answer = {
      statusCode: 200,
      ...(response.functionError ? { functionError: response.functionError } : {}),
      ...(response.payloadEncoding ? { payloadEncoding: response.payloadEncoding } : {}),
      ...(response.logTail ? { logResult: response.logTail } : {}),
    };
    // The bytes went out as the function wrote them, ahead of this reply, which counts them (an
    // error's too) so that the caller can tell whether it has them all.
    const streamed = chunks && chunks.sent > 0 ? { streamed: chunks.sent } : {};
    if (response.streamed && !response.functionError) return this.publish(job, this.serialize(job, { ...answer, ...streamed }));
    // A reply that fits goes out in this very tick. The payload travels JSON-escaped inside the
    // reply, so the size that matters is the serialized reply's; a larger one goes by reference.
    const inline = this.serialize(job, { ...answer, ...streamed, payload: response.payload });
    if (!this.payloads.needsReference(inline)) return this.publish(job, inline);
    this.publish(job, this.serialize(job, { ...answer, ...streamed, payloadRef: await this.payloads.put(response.payload) }));
  }

  private reply(job: InvocationJob, answer: Omit<InvocationReply, 'v' | 'requestId' | 'executedVersion'>): void {
    this.publish(job, this.serialize(job, answer));
  }

  private serialize(job: InvocationJob, answer: Omit<InvocationReply, 'v' | 'requestId' | 'executedVersion'>): string {
    const reply: InvocationReply = { v: INVOCATION_FORMAT, requestId: job.requestId, executedVersion: LATEST, ...answer };
    return JSON.stringify(reply);
  }

  private publish(job: InvocationJob, reply: string): void {
    if (!job.replyTo) return;
    this.nats.nc.publish(job.replyTo, reply);
    this.answered.add(job.requestId);
  }
}
