import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

/** Raised when the environment does not describe a valid configuration; names every bad variable. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`${service}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const flatten = (errors: ValidationError[]): string[] =>
  errors.flatMap((e) => [
    ...Object.values(e.constraints ?? {}).map((message) => `${e.property}: ${message} (got ${JSON.stringify(e.value)})`),
    ...flatten(e.children ?? []),
  ]);

/**
 * Builds and validates a configuration class from environment variables. Property names are the
 * variable names; defaults are the class's initializers. Unknown variables are ignored.
 */
export const loadConfig = <T extends object>(
  service: string,
  cls: new () => T,
  env: Record<string, string | undefined> = process.env,
): T => {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const instance = plainToInstance(cls, defined, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const errors = validateSync(instance, { whitelist: false, forbidUnknownValues: false });
  if (errors.length > 0) throw new ConfigError(service, flatten(errors));
  return instance;
};
