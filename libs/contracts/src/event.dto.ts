import 'reflect-metadata';
import { Equals, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { FUNCTION_NAME_PATTERN } from './lambda.js';
import { REPLY_CHUNK_BYTES, REPLY_WINDOW_MAX_BYTES } from './invocation.js';

const INVOKED_QUALIFIER = /^[a-zA-Z0-9$_-]{1,128}$/;

/** The envelope of every event read from the events stream. */
export class CloudEventDto {
  @Equals('1.0') specversion!: '1.0';
  @IsString() @IsNotEmpty() id!: string;
  @IsString() @IsNotEmpty() source!: string;
  @IsString() @IsNotEmpty() type!: string;
  @IsOptional() @IsString() subject?: string;
  @IsString() time!: string;
  @IsOptional() @IsString() dataref?: string;
  @IsOptional() @IsString() partitionkey?: string;
  data?: unknown;
}

/** An `invoke` event: the envelope plus the invocation's extension attributes. */
export class InvokeEventDto extends CloudEventDto {
  /** Becomes the request id: a BullMQ job id, an HTTP header value and a subject token. */
  @Matches(/^[A-Za-z0-9_-]{1,128}$/, { message: 'id must be 1 to 128 letters, digits, - or _' }) declare id: string;
  @Matches(FUNCTION_NAME_PATTERN) targetfunction!: string;
  @IsString() qualifier!: string;
  @IsOptional() @Matches(INVOKED_QUALIFIER, { message: 'invokedqualifier must be 1 to 128 letters, digits, $, - or _' }) invokedqualifier?: string;
  @IsIn(['RequestResponse', 'Event']) invocationtype!: 'RequestResponse' | 'Event';
  @IsIn(['None', 'Tail']) logtype!: 'None' | 'Tail';
  @IsInt() functionrevision!: number;
  @IsOptional() @IsString() functioncreated?: string;
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, { message: 'replyto must be a NATS subject without wildcards' }) replyto?: string;
  @IsOptional() @IsInt() deadline?: number;
  @IsOptional() @IsString() clientcontext?: string;
  @IsOptional() @IsIn(['streaming']) responsemode?: 'streaming';
  @IsOptional() @IsInt() @Min(REPLY_CHUNK_BYTES) @Max(REPLY_WINDOW_MAX_BYTES) streamwindow?: number;
}

/** BullMQ job data as read back from Redis. */
export class InvocationJobDto {
  @Equals(1) v!: 1;
  @IsString() @IsNotEmpty() requestId!: string;
  @Matches(FUNCTION_NAME_PATTERN) functionName!: string;
  @IsString() qualifier!: string;
  @IsOptional() @Matches(INVOKED_QUALIFIER) invokedQualifier?: string;
  @IsInt() functionRevision!: number;
  @IsOptional() @IsString() functionCreated?: string;
  @IsIn(['RequestResponse', 'Event']) invocationType!: 'RequestResponse' | 'Event';
  @IsIn(['None', 'Tail']) logType!: 'None' | 'Tail';
  @IsOptional() @IsString() payload?: string;
  @IsOptional() @IsString() payloadRef?: string;
  @IsOptional() @IsString() replyTo?: string;
  @IsOptional() @IsInt() deadline?: number;
  @IsOptional() @IsString() clientContext?: string;
  @IsOptional() @IsIn(['streaming']) responseMode?: 'streaming';
  @IsOptional() @IsInt() @Min(REPLY_CHUNK_BYTES) @Max(REPLY_WINDOW_MAX_BYTES) streamWindow?: number;
  @IsInt() receivedAt!: number;
}
