import { randomUUID } from 'node:crypto';
import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { notAMediaType, type Refusal } from '@tributary/observability';
import { S3Error } from '@tributary/s3';

export interface Reply {
  status(code: number): Reply;
  header(name: string, value: string): Reply;
  send(body?: unknown): void;
}

/** S3's answer to a body over the limit. */
export const requestTooBig = (): S3Error => new S3Error('MaxMessageLengthExceeded', 'Your request was too big.');

/**
 * An error as answered at `url`: in S3's XML, naming the path as its resource, except on the
 * `/events` webhook, whose callers (MinIO, scripts) read JSON.
 */
export const s3ErrorAnswer = (error: S3Error, url: string): Refusal => {
  const resource = url.split('?')[0] ?? url;
  if (resource === '/events') return { status: error.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: error.code, message: error.message }) };
  const requestId = randomUUID();
  return { status: error.status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId }, body: error.toXml(resource, requestId) };
};

export const sendS3Error = (reply: Reply, error: S3Error, url: string): void => {
  const { status, headers, body } = s3ErrorAnswer(error, url);
  reply.status(status);
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  reply.send(body);
};

/** What no route answered itself: a path nothing serves, a body over the limit, anything unforeseen. */
@Catch()
export class S3ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(S3ErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const error = this.toS3Error(exception, http.getRequest<{ headers: Record<string, string | string[] | undefined> }>().headers);
    if (error.code === 'InternalError') this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    sendS3Error(http.getResponse<Reply>(), error, http.getRequest<{ url: string }>().url);
  }

  private toS3Error(exception: unknown, headers: Record<string, string | string[] | undefined>): S3Error {
    if (exception instanceof S3Error) return exception;
    const status = (exception as { statusCode?: number })?.statusCode ?? (exception as { status?: number })?.status;
    if (status === 413 || (exception as { code?: string })?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return requestTooBig();
    // S3's code for a request header it cannot take: the caller's mistake, never an InternalError.
    if (status === 415) return new S3Error('InvalidArgument', notAMediaType(headers['content-type']), 400);
    if (status === 404 || status === 405) {
      return new S3Error('NotImplemented', "Tributary's S3 endpoint serves a bucket's ?notification subresource (and the /events webhook), nothing else", 501);
    }
    return new S3Error('InternalError', 'We encountered an internal error. Please try again.', 500);
  }
}
