import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvokeEventDto } from './event.dto.js';
import { validateDto } from './validate.js';

const event = {
  specversion: '1.0',
  id: 'req-1',
  source: 'test',
  type: 'invoke',
  time: new Date().toISOString(),
  targetfunction: 'fn',
  qualifier: '$LATEST',
  invocationtype: 'RequestResponse',
  logtype: 'None',
  functionrevision: 1,
  data: { nested: { deep: [1, 2, 3] } },
};

describe('validateDto', () => {
  for (const shallow of [false, true]) {
    describe(shallow ? 'shallow' : 'through class-transformer', () => {
      it('accepts a valid event as an instance of the DTO', () => {
        const result = validateDto(InvokeEventDto, event, { shallow });
        assert.ok(result.ok);
        assert.ok(result.value instanceof InvokeEventDto);
        assert.deepEqual(result.value.data, event.data);
      });

      it('names every offending member', () => {
        const result = validateDto(InvokeEventDto, { ...event, invocationtype: 'Sometimes', functionrevision: '1', id: 'a:b' }, { shallow });
        assert.ok(!result.ok);
        assert.deepEqual(result.violations.map((v) => v.path).sort(), ['functionrevision', 'id', 'invocationtype']);
      });

      for (const member of ['"__proto__":{}', '"constructor":{}', '"constructor":null', '"constructor":"x"']) {
        it(`is not fooled by an own member ${member}`, () => {
          const hostile = JSON.parse(JSON.stringify({ ...event, specversion: 'nope', id: 'a b' }).replace('{', `{${member},`)) as unknown;
          const result = validateDto(InvokeEventDto, hostile, { shallow });
          assert.ok(!result.ok);
          assert.deepEqual(result.violations.map((v) => v.path).sort(), ['id', 'specversion']);
          // …and a valid event that carries one is still valid.
          assert.ok(validateDto(InvokeEventDto, JSON.parse(JSON.stringify(event).replace('{', `{${member},`)) as unknown, { shallow }).ok);
        });
      }

      it('refuses what is not an object', () => {
        for (const input of [null, 'text', [event]]) assert.equal(validateDto(InvokeEventDto, input, { shallow }).ok, false);
      });
    });
  }

  it('leaves the input alone when shallow', () => {
    const input = { ...event };
    const result = validateDto(InvokeEventDto, input, { shallow: true });
    assert.ok(result.ok);
    assert.notEqual(result.value, input);
    assert.equal(Object.getPrototypeOf(input), Object.prototype);
  });
});
