import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Violation } from '@tributary/contracts';
import { notAMediaType } from '@tributary/observability';

/** Error types of the Lambda API; the AWS SDK raises the exception class of the same name. */
export enum LambdaErrorType {
  ResourceNotFound = 'ResourceNotFoundException',
  ResourceConflict = 'ResourceConflictException',
  InvalidParameterValue = 'InvalidParameterValueException',
  InvalidRequestContent = 'InvalidRequestContentException',
  RequestTooLarge = 'RequestTooLargeException',
  RequestEntityTooLarge = 'RequestEntityTooLargeException',
  PreconditionFailed = 'PreconditionFailedException',
  PolicyLengthExceeded = 'PolicyLengthExceededException',
  TooManyRequests = 'TooManyRequestsException',
  Validation = 'ValidationException',
  Service = 'ServiceException',
  InvalidZipFile = 'InvalidZipFileException',
  ProvisionedConcurrencyConfigNotFound = 'ProvisionedConcurrencyConfigNotFoundException',
  UnknownOperation = 'UnknownOperationException',
  UnsupportedMediaType = 'UnsupportedMediaTypeException',
  MissingAuthenticationToken = 'MissingAuthenticationTokenException',
  IncompleteSignature = 'IncompleteSignatureException',
  UnrecognizedClient = 'UnrecognizedClientException',
  InvalidSignature = 'InvalidSignatureException',
}

const STATUS: Record<LambdaErrorType, number> = {
  [LambdaErrorType.ResourceNotFound]: 404,
  [LambdaErrorType.ResourceConflict]: 409,
  [LambdaErrorType.InvalidParameterValue]: 400,
  [LambdaErrorType.InvalidRequestContent]: 400,
  [LambdaErrorType.RequestTooLarge]: 413,
  [LambdaErrorType.RequestEntityTooLarge]: 413,
  [LambdaErrorType.PreconditionFailed]: 412,
  [LambdaErrorType.PolicyLengthExceeded]: 400,
  [LambdaErrorType.TooManyRequests]: 429,
  [LambdaErrorType.Validation]: 400,
  [LambdaErrorType.Service]: 500,
  [LambdaErrorType.InvalidZipFile]: 502,
  [LambdaErrorType.ProvisionedConcurrencyConfigNotFound]: 404,
  [LambdaErrorType.UnknownOperation]: 404,
  [LambdaErrorType.UnsupportedMediaType]: 415,
  [LambdaErrorType.MissingAuthenticationToken]: 403,
  [LambdaErrorType.IncompleteSignature]: 400,
  [LambdaErrorType.UnrecognizedClient]: 403,
  [LambdaErrorType.InvalidSignature]: 403,
};

/**
 * The errors whose message member AWS's model spells `Message`; the others (and the errors outside
 * the model, ValidationException and UnknownOperationException) spell it `message`. SDKs that read
 * the modeled member (boto3's `e.response['Message']`) find it only under its own spelling.
 */
const CAPITALISED_MESSAGE: ReadonlySet<LambdaErrorType> = new Set([LambdaErrorType.ResourceNotFound, LambdaErrorType.Service, LambdaErrorType.InvalidZipFile]);

/** An error answered in the Lambda API's shape: `x-amzn-ErrorType` plus `{Type, message}` (or `Message`). */
export class LambdaError extends Error {
  constructor(
    readonly type: LambdaErrorType,
    message: string,
    readonly extra: Record<string, string> = {},
    /** Modelled members of the error besides its message (TooManyRequestsException's `Reason`). */
    readonly members: Record<string, string> = {},
  ) {
    super(message);
    this.name = type;
  }

  get status(): number {
    return STATUS[this.type];
  }

  /** Status, headers and body of the answer, as the AWS SDK reads them. */
  render(): { status: number; headers: Record<string, string>; body: string } {
    return {
      status: this.status,
      headers: { 'x-amzn-ErrorType': this.type, 'x-amzn-RequestId': randomUUID(), 'content-type': 'application/json', ...this.extra },
      body: JSON.stringify({ Type: this.status >= 500 ? 'Service' : 'User', [CAPITALISED_MESSAGE.has(this.type) ? 'Message' : 'message']: this.message, ...this.members }),
    };
  }

  /** A type the API does not know (a newer worker's) is answered as ServiceException, never without a status. */
  static of(type: string, message: string, extra?: Record<string, string>): LambdaError {
    const known = (Object.values(LambdaErrorType) as string[]).includes(type) ? (type as LambdaErrorType) : LambdaErrorType.Service;
    return new LambdaError(known, message, extra);
  }

  static notFound(what: string): LambdaError {
    return new LambdaError(LambdaErrorType.ResourceNotFound, `Function not found: ${what}`);
  }

  /**
   * AWS's wording for constraint violations: "N validation error(s) detected: Value … at '…' …".
   * The model's constraints come as ValidationException; the service's own checks worded the same
   * way (a function name over 64 characters) as InvalidParameterValueException.
   */
  static validation(violations: Violation[], type = LambdaErrorType.Validation): LambdaError {
    const parts = violations.flatMap((v) => {
      // A required member left out (or sent as null) breaks one constraint, as AWS words it.
      const missing = v.path !== '' && !v.sensitive && (v.value === undefined || v.value === null);
      const shown = v.sensitive ? '' : ` ${formatValue(v.value)}`;
      return (missing ? ['Member must not be null'] : v.constraints).map((c) => `Value${shown} at '${memberPath(v.path)}' failed to satisfy constraint: ${c}`);
    });
    const count = parts.length;
    return new LambdaError(
      type,
      `${count} validation error${count === 1 ? '' : 's'} detected: ${parts.join('; ')}`,
    );
  }
}

/**
 * AWS's 429 for a sync invocation nothing could start in time: `Reason` says which limit, as the
 * model has it, and `Retry-After` when to try again.
 */
export const throttled = (): LambdaError =>
  new LambdaError(LambdaErrorType.TooManyRequests, 'Rate Exceeded.', { 'Retry-After': '1' }, { Reason: 'ConcurrentInvocationLimitExceeded' });

/** An Event invocation's payload over its limit, in AWS's words. */
export const eventPayloadTooLarge = (size: number, limit: number): LambdaError =>
  new LambdaError(LambdaErrorType.RequestTooLarge, `${size} byte payload is too large for the Event invocation type (limit ${limit} bytes)`);

const memberPath = (path: string): string =>
  path
    .split('.')
    .map((p) => p.charAt(0).toLowerCase() + p.slice(1))
    .join('.');

const formatValue = (value: unknown): string =>
  value === undefined ? 'null' : `'${typeof value === 'string' ? value : JSON.stringify(value)}'`;

interface Reply {
  status(code: number): Reply;
  header(name: string, value: string): Reply;
  send(body: unknown): void;
}

@Catch()
export class LambdaErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(LambdaErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<Reply>();
    const error = this.toLambdaError(exception, http.getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers);
    if (error.type === LambdaErrorType.Service) this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    const { status, headers, body } = error.render();
    reply.status(status);
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    reply.send(body);
  }

  private toLambdaError(exception: unknown, headers: Record<string, string | string[] | undefined>): LambdaError {
    if (exception instanceof LambdaError) return exception;
    const status = (exception as { status?: number; statusCode?: number })?.statusCode ?? (exception as { status?: number })?.status;
    const code = (exception as { code?: string })?.code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return new LambdaError(LambdaErrorType.RequestEntityTooLarge, 'Request must be smaller than the limit for this operation');
    }
    // Fastify refuses, before any route runs, a Content-Type that is not a media type (an empty one,
    // `json`): the caller's mistake, answered with the 415 that the model gives Invoke.
    if (status === 415) return new LambdaError(LambdaErrorType.UnsupportedMediaType, notAMediaType(headers['content-type']));
    if (status === 404) return new LambdaError(LambdaErrorType.UnknownOperation, 'Unknown operation');
    if (status === 405) return new LambdaError(LambdaErrorType.UnknownOperation, 'Unknown operation');
    return new LambdaError(LambdaErrorType.Service, 'An internal error occurred; try again');
  }
}
