import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

export interface Violation {
  /** Dotted path of the offending member, e.g. `Environment.Variables`. */
  path: string;
  value: unknown;
  constraints: string[];
}

const collect = (errors: ValidationError[], parent = ''): Violation[] =>
  errors.flatMap((e) => {
    const path = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ path, value: e.value, constraints: Object.values(e.constraints) }] : [];
    return [...own, ...collect(e.children ?? [], path)];
  });

export interface ValidateOptions {
  /**
   * The DTO has no nested DTOs (no `@Type`): its members are checked on a shallow copy, without
   * class-transformer's pass over the whole input, whose cost grows with the size of a payload
   * carried in it. For the events and jobs every invocation passes through.
   */
  shallow?: boolean;
}

/**
 * An instance of `cls` holding `input`'s own members. class-validator finds a DTO's rules through
 * the instance's `constructor`: an own `constructor` member would hide the class (and pass
 * anything, or throw), so it is left out, as class-transformer leaves it out. Members are
 * defined, not assigned: an own `__proto__` member (JSON.parse makes one) assigned would replace
 * the prototype, with the same effect.
 */
const shallowInstance = <T extends object>(cls: new () => T, input: object): T => {
  const value = Object.create(cls.prototype) as T;
  for (const [key, member] of Object.entries(input)) {
    if (key === 'constructor') continue;
    Object.defineProperty(value, key, { value: member, enumerable: true, writable: true, configurable: true });
  }
  return value;
};

/** Turns untrusted input into a DTO instance, or lists what is wrong with it. */
export const validateDto = <T extends object>(
  cls: new () => T,
  input: unknown,
  options: ValidateOptions = {},
): { ok: true; value: T } | { ok: false; violations: Violation[] } => {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, violations: [{ path: '', value: input, constraints: ['must be a JSON object'] }] };
  }
  const value = options.shallow ? shallowInstance(cls, input) : plainToInstance(cls, input);
  const errors = validateSync(value, { forbidUnknownValues: false });
  return errors.length === 0 ? { ok: true, value } : { ok: false, violations: collect(errors) };
};
