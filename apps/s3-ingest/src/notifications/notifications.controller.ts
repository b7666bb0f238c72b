import { Body, Controller, Get, Headers, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import { LATEST, parseFunctionName, type LambdaIdentity } from '@tributary/contracts';
import { NatsClient } from '@tributary/nats';
import { FunctionRegistry, TriggerRegistry } from '@tributary/registry';
import { S3Error, notificationXml, parseNotificationXml } from '@tributary/s3';
import { sendS3Error, type Reply } from './s3-error.filter.js';
import { StoreWiringService } from './store-wiring.service.js';
import { IngestError, WebhookService } from './webhook.service.js';

/**
 * A bucket name the trigger registry can hold: S3's characters (with the legacy upper case and
 * underscores MinIO and old us-east-1 buckets allow), starting and ending with a letter or digit.
 */
const BUCKET_NAME = /^[A-Za-z0-9_-](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9_-])?$/;

const checkBucket = (bucket: string): void => {
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: bucket });
};

/** S3's words for a configuration it cannot read; parseNotificationXml throws its own S3Errors for the rest. */
const parseConfiguration = (bucket: string, xml: string, maxBytes: number): ReturnType<typeof parseNotificationXml> => {
  try {
    return parseNotificationXml(bucket, xml, maxBytes);
  } catch (error) {
    if (error instanceof S3Error) throw error;
    throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  }
};

/** The region and account whose functions this installation runs. */
export const NOTIFICATION_IDENTITY = Symbol('NOTIFICATION_IDENTITY');

@Controller()
export class NotificationsController {
  constructor(
    @Inject(WebhookService) private readonly webhook: WebhookService,
    @Inject(FunctionRegistry) private readonly functions: FunctionRegistry,
    @Inject(TriggerRegistry) private readonly triggers: TriggerRegistry,
    @Inject(StoreWiringService) private readonly store: StoreWiringService,
    @Inject(NOTIFICATION_IDENTITY) private readonly identity: LambdaIdentity,
    @Inject(NatsClient) private readonly nats: NatsClient,
  ) {}

  /** The store's webhook target (MinIO's webhook, or anything posting S3 event JSON). */
  @Post('events')
  async events(@Headers('authorization') authorization: string | undefined, @Body() body: Buffer | undefined, @Res() reply: Reply) {
    try {
      this.webhook.authorize(authorization);
      const published = await this.webhook.ingest(body);
      reply.status(200).header('content-type', 'application/json').send({ published });
    } catch (error) {
      if (!(error instanceof IngestError)) throw error;
      reply.status(error.status).header('content-type', 'application/json').send({ error: error.status === 503 ? 'ServiceUnavailable' : 'BadRequest', message: error.message });
    }
  }

  /** PutBucketNotificationConfiguration: `PUT /{bucket}?notification`. */
  @Put(':bucket')
  async putConfiguration(@Param('bucket') bucket: string, @Query() query: Record<string, string>, @Body() body: Buffer | undefined, @Res() reply: Reply) {
    if (!('notification' in query)) return sendS3Error(reply, new S3Error('NotImplemented', 'Only the ?notification subresource is served here', 501), `/${bucket}`);
    try {
      checkBucket(bucket);
      // A bucket's configuration is one KV value: one bus message, less room for its headers.
      const config = parseConfiguration(bucket, (body ?? Buffer.alloc(0)).toString('utf8'), this.nats.maxPayload - 1024);
      const found = new Map<string, boolean>();
      for (const trigger of config.lambda) {
        // As on AWS, a bucket notifies functions of its own region (and here, account) only.
        const ref = parseFunctionName(trigger.functionArn);
        if (ref?.region !== undefined && ref.region !== this.identity.region) {
          throw new S3Error('InvalidArgument', 'The notification destination service region is not valid for the bucket location constraint', 400, {
            ArgumentName1: trigger.functionArn,
            ArgumentValue1: `The function is in ${ref.region}; this store's functions are in ${this.identity.region}`,
          });
        }
        if (ref?.accountId !== undefined && ref.accountId !== this.identity.accountId) {
          throw new S3Error('InvalidArgument', 'Unable to validate the following destination configurations', 400, {
            ArgumentName1: trigger.functionArn,
            ArgumentValue1: `Not authorized to invoke function [${trigger.functionArn}]`,
          });
        }
        // Only $LATEST exists here (no versions or aliases yet): a qualified ARN names nothing, and
        // taken, it would run $LATEST in the alias's name.
        const versionExists = ref?.qualifier === undefined || ref.qualifier === LATEST;
        if (!found.has(trigger.functionName)) found.set(trigger.functionName, (await this.functions.getFresh(trigger.functionName)) !== undefined);
        if (!versionExists || !found.get(trigger.functionName)) {
          throw new S3Error('InvalidArgument', 'Unable to validate the following destination configurations', 400, {
            ArgumentName1: trigger.functionArn,
            ArgumentValue1: 'The destination function does not exist',
          });
        }
      }
      await this.store.wire(config);
      await this.triggers.put(config);
      reply.status(200).send();
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      sendS3Error(reply, error, `/${bucket}`);
    }
  }

  /** GetBucketNotificationConfiguration: `GET /{bucket}?notification`. */
  @Get(':bucket')
  async getConfiguration(@Param('bucket') bucket: string, @Query() query: Record<string, string>, @Res() reply: Reply) {
    if (!('notification' in query)) return sendS3Error(reply, new S3Error('NotImplemented', 'Only the ?notification subresource is served here', 501), `/${bucket}`);
    try {
      checkBucket(bucket);
    } catch (error) {
      return sendS3Error(reply, error as S3Error, `/${bucket}`);
    }
    reply.status(200).header('content-type', 'application/xml').send(notificationXml(await this.triggers.getFresh(bucket)));
  }
}
