import { Controller, Delete, Inject, Param, Post, Put } from '@nestjs/common';
import { FunctionsService, PUBLISH_WHY, unsupported } from './functions.service.js';

const ALIASES = 'functions have no aliases yet; invoke $LATEST.';
const CONCURRENCY = 'concurrency is not configurable per function yet.';
const ASYNC_SETTINGS = 'retries, maximum event age and destinations of asynchronous invocations are not configurable yet.';
const URLS = 'function URLs are not served yet.';

/**
 * Writes of features this build does not have (versions, aliases, concurrency,
 * asynchronous-invocation settings, URLs, event source mappings). Each first checks the function
 * exists, as AWS does, then refuses with InvalidParameterValueException naming the operation and
 * why. An UnknownOperationException, which these got before, tells a deployment tool's user nothing.
 */
@Controller()
export class UnsupportedOperationsController {
  constructor(@Inject(FunctionsService) private readonly functions: FunctionsService) {}

  private async refuse(name: string, operation: string, why: string): Promise<never> {
    await this.functions.resolve(name);
    throw unsupported(operation, why);
  }

  @Post('2015-03-31/functions/:name/versions')
  publishVersion(@Param('name') name: string) {
    return this.refuse(name, 'PublishVersion', PUBLISH_WHY);
  }

  @Post('2015-03-31/functions/:name/aliases')
  createAlias(@Param('name') name: string) {
    return this.refuse(name, 'CreateAlias', ALIASES);
  }

  @Put('2015-03-31/functions/:name/aliases/:alias')
  updateAlias(@Param('name') name: string) {
    return this.refuse(name, 'UpdateAlias', ALIASES);
  }

  @Delete('2015-03-31/functions/:name/aliases/:alias')
  deleteAlias(@Param('name') name: string) {
    return this.refuse(name, 'DeleteAlias', ALIASES);
  }

  @Put('2017-10-31/functions/:name/concurrency')
  putConcurrency(@Param('name') name: string) {
    return this.refuse(name, 'PutFunctionConcurrency', CONCURRENCY);
  }

  @Put('2019-09-30/functions/:name/provisioned-concurrency')
  putProvisionedConcurrency(@Param('name') name: string) {
    return this.refuse(name, 'PutProvisionedConcurrencyConfig', CONCURRENCY);
  }

  @Put('2019-09-25/functions/:name/event-invoke-config')
  putEventInvokeConfig(@Param('name') name: string) {
    return this.refuse(name, 'PutFunctionEventInvokeConfig', ASYNC_SETTINGS);
  }

  @Post('2019-09-25/functions/:name/event-invoke-config')
  updateEventInvokeConfig(@Param('name') name: string) {
    return this.refuse(name, 'UpdateFunctionEventInvokeConfig', ASYNC_SETTINGS);
  }

  @Post('2021-10-31/functions/:name/url')
  createUrl(@Param('name') name: string) {
    return this.refuse(name, 'CreateFunctionUrlConfig', URLS);
  }

  @Put('2021-10-31/functions/:name/url')
  updateUrl(@Param('name') name: string) {
    return this.refuse(name, 'UpdateFunctionUrlConfig', URLS);
  }

  /** The function is named in the body here; it is refused whatever it names. */
  @Post('2015-03-31/event-source-mappings')
  createEventSourceMapping(): never {
    throw unsupported('CreateEventSourceMapping', 'event source mappings are not supported yet; a bucket invokes functions through its notification configuration.');
  }
}
