import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsISO8601, IsInt, IsNotEmpty, IsObject, IsOptional, IsString, Matches, Min, ValidateNested } from 'class-validator';

class S3IdentityDto {
  /** Optional: an owner without an id is no reason to refuse a notification the store would retry. */
  @IsOptional() @IsString() principalId?: string;
}

class S3BucketDto {
  @IsString() @IsNotEmpty({ message: 'bucket name must not be empty' }) name!: string;
  /** The bucket owner's id, which S3 sends; MinIO sends its own. */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => S3IdentityDto) ownerIdentity?: S3IdentityDto;
}

/** Text whose UTF-16 is whole: a lone surrogate is no character, and an object key of one cannot be written out in UTF-8. */
const WELL_FORMED = /^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

class S3ObjectDto {
  @IsString() @IsNotEmpty({ message: 'object key must not be empty' }) @Matches(WELL_FORMED, { message: 'object key must be Unicode text (it holds a lone surrogate)' }) key!: string;
  @IsOptional() @IsInt() @Min(0) size?: number;
  @IsOptional() @IsString() eTag?: string;
  @IsOptional() @IsString() versionId?: string;
  @IsOptional() @IsString() sequencer?: string;
}

class S3EntityDto {
  @IsObject({ message: 'every record needs s3.bucket' }) @ValidateNested() @Type(() => S3BucketDto) bucket!: S3BucketDto;
  @IsObject({ message: 'every record needs s3.object' }) @ValidateNested() @Type(() => S3ObjectDto) object!: S3ObjectDto;
  @IsOptional() @IsString() configurationId?: string;
}

/** One record of an S3 or MinIO notification, as received by the webhook. */
export class S3RecordDto {
  @IsString() @IsNotEmpty() eventName!: string;
  /** Handed to functions as the time of the event: a date they can read, as S3 and MinIO write it. */
  @IsOptional() @IsISO8601({ strict: true }, { message: 'eventTime must be an ISO 8601 date and time' }) eventTime?: string;
  @IsOptional() @IsString() awsRegion?: string;
  @IsOptional() @IsString() eventSource?: string;
  @IsObject({ message: 'every record needs an s3 entity' }) @ValidateNested() @Type(() => S3EntityDto) s3!: S3EntityDto;
  userIdentity?: { principalId?: string };
  requestParameters?: { sourceIPAddress?: string };
  responseElements?: Record<string, string>;
}

/** A notification body: AWS's `{"Records": [...]}`, MinIO's (plus `EventName`, `Key`). */
export class S3NotificationDto {
  @IsArray({ message: 'Records must be an array of S3 event records' })
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => S3RecordDto)
  Records!: S3RecordDto[];
}
