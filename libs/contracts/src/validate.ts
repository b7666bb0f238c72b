import { Exclude, plainToInstance } from 'class-transformer';
import { IsObject, validateSync, type ValidationError } from 'class-validator';

export interface Violation {
  /** Dotted path of the offending member, e.g. `Environment.Variables`. */
  path: string;
  value: unknown;
  constraints: string[];
  /** The model marks the member sensitive: AWS's message leaves its value out ("Value at '…'"). */
  sensitive?: boolean;
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
 * copied by spread, which defines them: assigned, an own `__proto__` member (JSON.parse makes
 * one) would replace the prototype, with the same effect. Defining them one by one on an
 * `Object.create` instance cost 7.4 µs an invoke event, against 0.3 µs for this (Node.js 20).
 */
const shallowInstance = <T extends object>(cls: new () => T, input: object): T => {
  const value: Record<string, unknown> = { ...input };
  if (Object.hasOwn(value, 'constructor')) delete value['constructor'];
  return Object.setPrototypeOf(value, cls.prototype) as T;
};

/** Members of each DTO class that are maps of the caller's own keys (MapMember). */
const mapMembers = new WeakMap<object, string[]>();

/**
 * A member that is a map of the caller's keys (Environment.Variables, Tags): checked as an
 * object, and kept out of class-transformer's pass, which drops keys named as Object's methods
 * (`toString`, `valueOf`) and throws on `constructor`. validateDto copies it over whole.
 */
export const MapMember =
  (message: string): PropertyDecorator =>
  (target, key) => {
    mapMembers.set(target.constructor, [...(mapMembers.get(target.constructor) ?? []), String(key)]);
    Exclude({ toClassOnly: true })(target, key);
    IsObject({ message })(target, key);
  };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Puts the map members of `instance` (and of the DTOs nested in it) back from `raw`, as copies. */
const restoreMaps = (instance: object, raw: Record<string, unknown>): void => {
  for (let cls: unknown = instance.constructor; typeof cls === 'function' && cls !== Object; cls = Object.getPrototypeOf(cls)) {
    for (const key of mapMembers.get(cls) ?? []) {
      if (!Object.hasOwn(raw, key)) continue;
      const member = raw[key];
      // Spread defines each key as an own member: `__proto__` and `constructor` stay plain keys.
      Object.defineProperty(instance, key, { value: isRecord(member) ? { ...member } : member, enumerable: true, writable: true, configurable: true });
    }
  }
  for (const [key, child] of Object.entries(instance)) {
    const rawChild = raw[key];
    if (Array.isArray(child) && Array.isArray(rawChild)) {
      child.forEach((item: unknown, i) => isRecord(item) && item.constructor !== Object && isRecord(rawChild[i]) && restoreMaps(item, rawChild[i]));
    } else if (isRecord(child) && child.constructor !== Object && isRecord(rawChild)) {
      restoreMaps(child, rawChild);
    }
  }
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
  let value: T;
  let errors: ValidationError[];
  try {
    value = options.shallow ? shallowInstance(cls, input) : plainToInstance(cls, input);
    if (!options.shallow) restoreMaps(value, input as Record<string, unknown>);
    errors = validateSync(value, { forbidUnknownValues: false });
  } catch (error) {
    // class-transformer recurses through every member: JSON nested some thousand levels deep
    // (which JSON.parse takes) overflows the stack. That is the input's fault.
    if (error instanceof RangeError) return { ok: false, violations: [{ path: '', value: undefined, constraints: ['must not be nested this deeply'] }] };
    throw error;
  }
  return errors.length === 0 ? { ok: true, value } : { ok: false, violations: collect(errors) };
};
