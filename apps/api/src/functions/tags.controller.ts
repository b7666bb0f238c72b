import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { FunctionsService } from './functions.service.js';
import { parseJson } from './functions.controller.js';

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
    await this.functions.untag(resource, tagKeys === undefined ? [] : ([] as string[]).concat(tagKeys));
  }
}
