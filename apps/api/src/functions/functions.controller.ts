import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import { FunctionRegistry } from '@tributary/registry';
import { PolicyService } from './policy.service.js';
import { FunctionsService } from './functions.service.js';
import { InvokeInputOf } from './invoke-input.decorator.js';
import { InvokeService, type InvokeInput } from './invoke.service.js';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/** Base URL the API is reached at from outside (behind a proxy, say); else the request's Host. */
export const PUBLIC_URL = Symbol('PUBLIC_URL');

interface Reply {
  status(code: number): Reply;
  headers(values: Record<string, string>): Reply;
  header(name: string, value: string): Reply;
  send(body?: unknown): void;
}

/** Bodies arrive as raw bytes (see main.ts); JSON operations parse them here. */
export const parseJson = (body: Buffer | undefined): unknown => {
  if (!body || body.byteLength === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new LambdaError(LambdaErrorType.InvalidRequestContent, 'Could not parse request body into json');
  }
};

/** The Lambda API's function operations, at the paths the AWS SDK calls. */
@Controller('2015-03-31/functions')
export class FunctionsController {
  constructor(
    @Inject(FunctionsService) private readonly functions: FunctionsService,
    @Inject(InvokeService) private readonly invoker: InvokeService,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(PolicyService) private readonly policies: PolicyService,
    @Inject(PUBLIC_URL) private readonly publicUrl: string | undefined,
  ) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: Buffer | undefined) {
    return this.functions.create(parseJson(body));
  }

  @Get()
  list(
    @Query('Marker') marker?: string,
    @Query('MaxItems') maxItems?: string,
    @Query('FunctionVersion') functionVersion?: string,
    @Query('MasterRegion') masterRegion?: string,
  ) {
    return this.functions.list(marker, maxItems === undefined ? undefined : Number(maxItems), { functionVersion, masterRegion });
  }

  @Get(':name')
  async get(
    @Param('name') name: string,
    @Headers('host') host: string | undefined,
    @Headers('x-forwarded-proto') forwardedProto: string | undefined,
    @Query('Qualifier') qualifier?: string,
  ) {
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    // A URL the caller can download the package from, as AWS's (presigned) Location is.
    const scheme = forwardedProto?.split(',')[0]?.trim() === 'https' ? 'https' : 'http';
    const base = this.publicUrl ?? `${scheme}://${host ?? '127.0.0.1'}`;
    return {
      Configuration: this.functions.configuration(record, named),
      Code: { RepositoryType: 'S3', Location: `${base}/2015-03-31/functions/${encodeURIComponent(record.name)}/code` },
      Tags: record.tags ?? {},
    };
  }

  /** Tributary extension: the deployment package, where GetFunction's Code.Location points. */
  @Get(':name/code')
  async code(@Param('name') name: string, @Res() reply: Reply) {
    const { record } = await this.functions.resolve(name);
    const zip = await this.registry.getCode(record.codeKey);
    reply.status(200).header('content-type', 'application/zip').send(Buffer.from(zip));
  }

  /** GetPolicy: which buckets may invoke the function (one statement per bucket trigger). */
  @Get(':name/policy')
  async policy(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    const { record } = await this.functions.resolve(name, qualifier);
    return this.policies.policy(record);
  }

  @Get(':name/configuration')
  async getConfiguration(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    return this.functions.configuration(record, named);
  }

  @Put(':name/configuration')
  updateConfiguration(@Param('name') name: string, @Body() body: Buffer | undefined) {
    return this.functions.updateConfiguration(name, parseJson(body));
  }

  @Put(':name/code')
  updateCode(@Param('name') name: string, @Body() body: Buffer | undefined) {
    return this.functions.updateCode(name, parseJson(body));
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    await this.functions.delete(name, qualifier);
  }

  @Post(':name/invocations')
  async invoke(@InvokeInputOf() input: InvokeInput, @Res() reply: Reply) {
    const answer = await this.invoker.invoke(input);
    reply.status(answer.statusCode).headers(answer.headers).send(answer.body);
  }
}
