import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { FunctionsService } from './functions.service.js';
import { parseJson } from './functions.controller.js';
import { LambdaError } from './lambda-error.js';

/** The Lambda API's tagging operations (ListTags, TagResource, UntagResource) for functions. */
@Controller('2017-03-31/tags')
export class TagsController {
  constructor(@Inject(FunctionsService) private readonly functions: FunctionsService) {}

  @Get(':resource')
  list(@Param('resource') resource: string) {
    return this.functions.listTags(resource);
  }

  @Post(':resource')
  @HttpCode(204)
  async tag(@Param('resource') resource: string, @Body() body: Buffer | undefined) {
    await this.functions.tag(resource, parseJson(body));
  }

  @Delete(':resource')
  @HttpCode(204)
  async untag(@Param('resource') resource: string, @Query('tagKeys') tagKeys: string | string[] | undefined) {
    if (tagKeys === undefined) throw LambdaError.validation([{ path: 'tagKeys', value: null, constraints: ['Member must not be null'] }]);
    await this.functions.untag(resource, ([] as string[]).concat(tagKeys));
  }
}
