import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import { LAMBDA_LIMITS, LATEST, functionArn, type LambdaIdentity } from '@tributary/contracts';
import { FunctionRegistry } from '@tributary/registry';
import { parseJson } from './functions.controller.js';
import { CODE_SIGNING_WHY, FunctionsService, LAMBDA_IDENTITY, unsupported } from './functions.service.js';
import { InvokeService } from './invoke.service.js';
import { LambdaError, LambdaErrorType, eventPayloadTooLarge } from './lambda-error.js';

/** AWS's answer for a layer version it does not have. */
const layerVersionNotFound = (arn: string): LambdaError => new LambdaError(LambdaErrorType.ResourceNotFound, `Layer version ${arn} does not exist.`);

/**
 * Operations that deployment tools (Terraform, CDK, SAM, the console's equivalents) call around
 * a function, answered as AWS answers them for a function that has only $LATEST and none of
 * these settings — rather than UnknownOperationException, which stops those tools. Each checks
 * that the function exists first, as AWS does.
 */
@Controller()
export class FunctionExtrasController {
  constructor(
    @Inject(FunctionsService) private readonly functions: FunctionsService,
    @Inject(InvokeService) private readonly invoker: InvokeService,
    @Inject(FunctionRegistry) private readonly registry: FunctionRegistry,
    @Inject(LAMBDA_IDENTITY) private readonly identity: LambdaIdentity,
  ) {}

  /** ListVersionsByFunction: $LATEST only, listed under its qualified ARN. */
  @Get('2015-03-31/functions/:name/versions')
  async versions(@Param('name') name: string) {
    const { record } = await this.functions.resolve(name);
    const latest = this.functions.configuration(record);
    return { Versions: [{ ...latest, FunctionArn: `${latest.FunctionArn}:${LATEST}` }] };
  }

  /** ListAliases. */
  @Get('2015-03-31/functions/:name/aliases')
  async aliases(@Param('name') name: string) {
    await this.functions.resolve(name);
    return { Aliases: [] };
  }

  /** GetAlias: a function has no aliases. */
  @Get('2015-03-31/functions/:name/aliases/:alias')
  async alias(@Param('name') name: string, @Param('alias') alias: string) {
    const { record } = await this.functions.resolve(name);
    throw new LambdaError(LambdaErrorType.ResourceNotFound, `Cannot find alias arn: ${functionArn(this.identity, record.name, alias)}`);
  }

  /** GetFunctionConcurrency: no reserved concurrency. */
  @Get('2019-09-30/functions/:name/concurrency')
  async concurrency(@Param('name') name: string) {
    await this.functions.resolve(name);
    return {};
  }

  /** GetFunctionCodeSigningConfig: none. */
  @Get('2020-06-30/functions/:name/code-signing-config')
  async codeSigning(@Param('name') name: string) {
    const { record } = await this.functions.resolve(name);
    return { CodeSigningConfigArn: '', FunctionName: record.name };
  }

  /** DeleteFunctionCodeSigningConfig: none is attached, so there is nothing to remove (204). */
  @Delete('2020-06-30/functions/:name/code-signing-config')
  @HttpCode(204)
  async deleteCodeSigning(@Param('name') name: string): Promise<void> {
    await this.functions.resolve(name);
  }

  /** PutFunctionCodeSigningConfig: packages are not signed here, as CreateFunction's CodeSigningConfigArn says. */
  @Put('2020-06-30/functions/:name/code-signing-config')
  async putCodeSigning(@Param('name') name: string, @Body() body: Buffer | undefined): Promise<never> {
    const arn = (parseJson(body) as { CodeSigningConfigArn?: unknown }).CodeSigningConfigArn;
    if (typeof arn !== 'string') throw LambdaError.validation([{ path: 'codeSigningConfigArn', value: arn, constraints: ['Member must be a string'] }]);
    await this.functions.resolve(name);
    throw unsupported('PutFunctionCodeSigningConfig', CODE_SIGNING_WHY);
  }

  /** PutRuntimeManagementConfig: `Auto` only, which is what every function here has. */
  @Put('2021-07-20/functions/:name/runtime-management-config')
  putRuntimeManagement(@Param('name') name: string, @Query('Qualifier') qualifier: string | undefined, @Body() body: Buffer | undefined) {
    return this.functions.putRuntimeManagement(name, qualifier, parseJson(body));
  }

  /** GetRuntimeManagementConfig: runtimes follow the worker's Node.js. */
  @Get('2021-07-20/functions/:name/runtime-management-config')
  async runtimeManagement(@Param('name') name: string) {
    const { record } = await this.functions.resolve(name);
    return { UpdateRuntimeOn: 'Auto', FunctionArn: functionArn(this.identity, record.name) };
  }

  /**
   * GetFunctionEventInvokeConfig and DeleteFunctionEventInvokeConfig: none is configured. AWS
   * names the version in its answer, `$LATEST` when the caller named none.
   */
  @Get('2019-09-25/functions/:name/event-invoke-config')
  async eventInvokeConfig(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    const { record, qualifier: named } = await this.functions.resolve(name, qualifier);
    throw new LambdaError(LambdaErrorType.ResourceNotFound, `The function ${functionArn(this.identity, record.name, named ?? LATEST)} doesn't have an EventInvokeConfig`);
  }

  @Delete('2019-09-25/functions/:name/event-invoke-config')
  deleteEventInvokeConfig(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    return this.eventInvokeConfig(name, qualifier);
  }

  /** GetFunctionUrlConfig and DeleteFunctionUrlConfig: no function URL. */
  @Get('2021-10-31/functions/:name/url')
  async url(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    await this.functions.resolve(name, qualifier);
    throw new LambdaError(LambdaErrorType.ResourceNotFound, 'The resource you requested does not exist.');
  }

  @Delete('2021-10-31/functions/:name/url')
  deleteUrl(@Param('name') name: string, @Query('Qualifier') qualifier?: string) {
    return this.url(name, qualifier);
  }

  /** ListFunctionEventInvokeConfigs. */
  @Get('2019-09-25/functions/:name/event-invoke-config/list')
  async eventInvokeConfigs(@Param('name') name: string) {
    await this.functions.resolve(name);
    return { FunctionEventInvokeConfigs: [] };
  }

  /** ListFunctionUrlConfigs. */
  @Get('2021-10-31/functions/:name/urls')
  async urls(@Param('name') name: string) {
    await this.functions.resolve(name);
    return { FunctionUrlConfigs: [] };
  }

  /** ListProvisionedConcurrencyConfigs (`?List=ALL`) and GetProvisionedConcurrencyConfig share a path: none is configured. */
  @Get('2019-09-30/functions/:name/provisioned-concurrency')
  async provisionedConcurrency(@Param('name') name: string, @Query('List') list?: string, @Query('Qualifier') qualifier?: string) {
    await this.functions.resolve(name, list === 'ALL' ? undefined : qualifier);
    if (list === 'ALL') return { ProvisionedConcurrencyConfigs: [] };
    throw new LambdaError(LambdaErrorType.ProvisionedConcurrencyConfigNotFound, 'No Provisioned Concurrency Config found for this function');
  }

  /**
   * DeleteProvisionedConcurrencyConfig: there is none to delete. Only `$LATEST` exists, which AWS
   * gives no provisioned concurrency; any other qualifier names no version or alias.
   */
  @Delete('2019-09-30/functions/:name/provisioned-concurrency')
  async deleteProvisionedConcurrency(@Param('name') name: string, @Query('Qualifier') qualifier?: string): Promise<never> {
    if (qualifier === undefined) throw LambdaError.validation([{ path: 'qualifier', value: undefined, constraints: [] }]);
    await this.functions.resolve(name, qualifier);
    throw new LambdaError(LambdaErrorType.InvalidParameterValue, 'The function resource provided must be an alias or a published version.');
  }

  /** DeleteFunctionConcurrency: none is reserved, so there is nothing to remove; AWS answers 204 then too. */
  @Delete('2017-10-31/functions/:name/concurrency')
  @HttpCode(204)
  async deleteConcurrency(@Param('name') name: string): Promise<void> {
    await this.functions.resolve(name);
  }

  /** ListLayers: this build has no layers. GetLayerVersionByArn (`?find=LayerVersion&Arn=`) shares its path. */
  @Get('2018-10-31/layers')
  layers(@Query('find') find?: string, @Query('Arn') arn?: string) {
    if (find === 'LayerVersion') throw layerVersionNotFound(arn ?? '');
    return { Layers: [] };
  }

  /** GetLayerVersion: there is none. LayerName may be the layer's ARN. */
  @Get('2018-10-31/layers/:layer/versions/:version')
  layerVersion(@Param('layer') layer: string, @Param('version') version: string) {
    const arn = layer.startsWith('arn:') ? layer : `arn:aws:lambda:${this.identity.region}:${this.identity.accountId}:layer:${layer}`;
    throw layerVersionNotFound(`${arn}:${version}`);
  }

  /** ListLayerVersions. */
  @Get('2018-10-31/layers/:layer/versions')
  layerVersions() {
    return { LayerVersions: [] };
  }

  /** ListCodeSigningConfigs: packages are not signed here. */
  @Get('2020-04-22/code-signing-configs')
  codeSigningConfigs() {
    return { CodeSigningConfigs: [] };
  }

  /** ListEventSourceMappings: none (table streams and queues arrive with their own issues). */
  @Get('2015-03-31/event-source-mappings')
  eventSourceMappings() {
    return { EventSourceMappings: [] };
  }

  /**
   * GetEventSourceMapping, UpdateEventSourceMapping, DeleteEventSourceMapping: there is none,
   * whatever the UUID (AWS's words for one it does not have).
   */
  @Get('2015-03-31/event-source-mappings/:uuid')
  eventSourceMapping() {
    throw new LambdaError(LambdaErrorType.ResourceNotFound, 'The resource you requested does not exist.');
  }

  @Put('2015-03-31/event-source-mappings/:uuid')
  updateEventSourceMapping() {
    return this.eventSourceMapping();
  }

  @Delete('2015-03-31/event-source-mappings/:uuid')
  deleteEventSourceMapping() {
    return this.eventSourceMapping();
  }

  /** GetAccountSettings: AWS's default limits, and this installation's usage. */
  @Get('2016-08-19/account-settings')
  accountSettings() {
    const records = this.registry.list().map((e) => e.record);
    return {
      AccountLimit: {
        TotalCodeSize: 80_530_636_800,
        CodeSizeUnzipped: LAMBDA_LIMITS.unzippedBytes,
        CodeSizeZipped: LAMBDA_LIMITS.zipBytes,
        ConcurrentExecutions: 1000,
        UnreservedConcurrentExecutions: 1000,
      },
      AccountUsage: { TotalCodeSize: records.reduce((sum, r) => sum + r.codeSize, 0), FunctionCount: records.length },
    };
  }

  /**
   * InvokeAsync (deprecated, still served by AWS): an Event invocation answered `{"Status":202}`,
   * named by the invocation's request id as Invoke's answer is. Its payload limit is 256 KB
   * ("For larger payloads, for up to 1MB, use Invoke": AWS's API reference).
   */
  @Post('2014-11-13/functions/:name/invoke-async')
  async invokeAsync(
    @Param('name') name: string,
    @Body() body: Buffer | undefined,
    @Res() reply: { status(code: number): { headers(values: Record<string, string>): { send(body: unknown): void } } },
  ) {
    const size = body?.byteLength ?? 0;
    if (size > LAMBDA_LIMITS.invokeAsyncPayloadBytes) throw eventPayloadTooLarge(size, LAMBDA_LIMITS.invokeAsyncPayloadBytes);
    const answer = await this.invoker.invoke({ functionName: name, invocationType: 'Event', body });
    reply.status(202).headers(answer.headers).send({ Status: answer.statusCode });
  }
}
