import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, type ValidationError } from 'class-validator';

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

/** Variables whose values are never printed: a refused one is named by its length only. */
const SECRET = /SECRET|TOKEN|PASSWORD|CREDENTIALS/;

const flatten = (errors: ValidationError[], env: Record<string, string | undefined>): string[] =>
  errors.map((e) => {
    // Report what the operator wrote, not the value after conversion (NaN for "abc").
    const raw = env[e.property] ?? e.value;
    const shown = SECRET.test(e.property) && typeof raw === 'string' ? `(${raw.length} characters, not shown)` : JSON.stringify(raw);
    return `${e.property}=${shown}: ${Object.values(e.constraints ?? {}).join('; ')}`;
  });

/** The variables a configuration class reads (each has at least one validation decorator). */
const settingsOf = (cls: new () => object): Set<string> =>
  new Set(getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).map((m) => m.propertyName));

/**
 * A secret setting may come from a file instead, as container secrets are mounted: `X_FILE`
 * names a file whose contents (less a trailing line break) are `X`'s value. Only the service's
 * own secrets: another tool's `*_TOKEN_FILE` (Kubernetes' AWS_WEB_IDENTITY_TOKEN_FILE) is its own.
 */
const readSecretFiles = (service: string, settings: Set<string>, env: Record<string, string>): Record<string, string> => {
  const problems: string[] = [];
  const resolved = { ...env };
  for (const [name, path] of Object.entries(env)) {
    const base = name.endsWith('_FILE') ? name.slice(0, -'_FILE'.length) : '';
    if (!SECRET.test(base) || !settings.has(base)) continue;
    delete resolved[name];
    if (env[base] !== undefined) {
      problems.push(`${name}=${JSON.stringify(path)}: ${base} is set too; set one of them`);
      continue;
    }
    try {
      resolved[base] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      problems.push(`${name}=${JSON.stringify(path)}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(service, problems);
  return resolved;
};

/**
 * Builds and validates a configuration class from environment variables. Property names are the
 * variable names; defaults are the class's initializers. Unknown variables are ignored. A secret
 * (a name with SECRET, TOKEN, PASSWORD or CREDENTIALS in it) may be given as `NAME_FILE`, a path.
 */
export const loadConfig = <T extends object>(
  service: string,
  cls: new () => T,
  env: Record<string, string | undefined> = process.env,
): T => {
  const defined = readSecretFiles(
    service,
    settingsOf(cls),
    Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')),
  );
  const instance = plainToInstance(cls, defined, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const errors = validateSync(instance, { whitelist: false, forbidUnknownValues: false });
  if (errors.length > 0) throw new ConfigError(service, flatten(errors, defined));
  return instance;
};

/** loadConfig for a service's entry point: a bad environment prints what is wrong and exits 1. */
export const loadConfigOrExit = <T extends object>(service: string, cls: new () => T): T => {
  try {
    return loadConfig(service, cls);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
};
