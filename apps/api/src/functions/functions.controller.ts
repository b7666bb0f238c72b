import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import { signedBy, type SigV4Verifier } from '@tributary/auth';
import { FunctionRegistry } from '@tributary/registry';
import { PolicyService } from './policy.service.js';
import { FunctionsService } from './functions.service.js';
import { InvokeInputOf } from './invoke-input.decorator.js';
import { InvokeService, type InvokeInput } from './invoke.service.js';
import { LambdaError, LambdaErrorType } from './lambda-error.js';

/** Base URL the API is reached at from outside (behind a proxy, say); else the request's Host. */
export const PUBLIC_URL = Symbol('PUBLIC_URL');
/** The API's SigV4 verifier when calls must be signed (API_CREDENTIALS), else undefined. */
export const REQUEST_SIGNING = Symbol('REQUEST_SIGNING');

/** How long GetFunction's Code.Location stays valid when calls are signed: AWS's 10 minutes. */
const CODE_LOCATION_SECONDS = 600;

interface Reply {
  status(code: number): Reply;
  headers(values: Record<string, string>): Reply;
  header(name: string, value: string): Reply;
  send(body?: unknown): void;
}

/** Map members of the JSON operations' input: their values are data, and a null one is a bad value. */
const MAP_MEMBERS = new Set(['Tags', 'Environment.Variables']);

/**
 * AWS's JSON protocol reads a structure member set to null as absent. The SDK never sends one, but
 * a hand-written `{"Timeout": null}` must leave the timeout as it is, not store null for the worker
 * to trip on. Map values and array items are left as they are, for validation to refuse.
 */
const withoutNullMembers = (value: unknown, path = ''): unknown => {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || MAP_MEMBERS.has(path)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, member]) => member !== null)
      .map(([key, member]) => [key, withoutNullMembers(member, path ? `${path}.${key}` : key)]),
  );
};

/** Bodies arrive as raw bytes (see main.ts); JSON operations parse them here. */
export const parseJson = (body: Buffer | undefined): unknown => {
  if (!body || body.byteLength === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new LambdaError(LambdaErrorType.InvalidRequestContent, 'Could not parse request body into json');
  }
  return withoutNullMembers(parsed);
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
    @Inject(REQUEST_SIGNING) private readonly signing: SigV4Verifier | undefined,
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
    return this.functions.list(marker, maxItems, { functionVersion, masterRegion });
  }

  @Get(':name')
  async get(
    @Param('name') name: string,
    @Headers('host') host: string | undefined,
    @Headers('x-forwarded-proto') forwardedProto: string | undefined,
    @Req() request: { raw: object },
    @Query('Qualifier') qualifier?: string,
  ) {
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    // A URL the caller can download the package from, as AWS's Location is: presigned (with the
    // caller's own key) when calls must be signed.
    const scheme = forwardedProto?.split(',')[0]?.trim() === 'https' ? 'https' : 'http';
    const base = this.publicUrl ?? `${scheme}://${host ?? '127.0.0.1'}`;
    const location = `${base}/2015-03-31/functions/${encodeURIComponent(record.name)}/code`;
    const caller = signedBy.get(request.raw);
    return {
      Configuration: this.functions.configuration(record, named),
      Code: { RepositoryType: 'S3', Location: this.signing && caller ? await this.signing.presignUrl(location, caller, CODE_LOCATION_SECONDS) : location },
      // AWS leaves Tags out for a function that has none.
      ...(record.tags && Object.keys(record.tags).length > 0 ? { Tags: record.tags } : {}),
    };
  }

  /** Tributary extension: the deployment package, where GetFunction's Code.Location points. */
  @Get(':name/code')
  async code(@Param('name') name: string, @Res() reply: Reply) {
    const { record } = await this.functions.resolve(name);
    const zip = await this.registry.getCode(record.codeKey);
    reply.status(200).header('content-type', 'application/zip').send(Buffer.from(zip));
  }

  /** GetPolicy: the statements added with AddPermission, and one per bucket that invokes the function. */
  @Get(':name/policy')
  async policy(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    return this.policies.policy(record, named);
  }

  /** AddPermission (201). */
  @Post(':name/policy')
  addPermission(@Param('name') name: string, @Query('Qualifier') qualifier: string | undefined, @Body() body: Buffer | undefined) {
    return this.policies.addPermission(name, qualifier, parseJson(body));
  }

  /** RemovePermission. */
  @Delete(':name/policy/:statement')
  @HttpCode(204)
  async removePermission(
    @Param('name') name: string,
    @Param('statement') statement: string,
    @Query('Qualifier') qualifier?: string,
    @Query('RevisionId') revisionId?: string,
  ): Promise<void> {
    await this.policies.removePermission(name, statement, qualifier, revisionId);
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
