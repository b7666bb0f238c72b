// Tributary's Node.js runtime: the process inside a sandbox. It speaks the Lambda Runtime API
// like AWS's own Node.js runtime and may import nothing but Node's built-ins, because it runs
// inside the function's task root.
import http from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { format, types } from 'node:util';

const RUNTIME_PATH = '/2018-06-01/runtime';

/**
 * nodejs24.x and later run on version 4 of AWS's runtime interface client, a rewrite in TypeScript; the
 * earlier runtimes on version 3 (its source says so: "This RIC is used by Nodejs24 and above").
 * Where the two differ and a function can tell, this runtime does as the version its function's
 * runtime has: 4 imports every handler module, finds a handler in its `default` export too,
 * awaits what the handler returns (a synchronous one's value is the answer), gives it a context
 * without the callback era's `done`, `succeed`, `fail` and `callbackWaitsForEmptyEventLoop`, and
 * logs `-` for the request id outside an invocation.
 */
const RIC4 = Number(/^AWS_Lambda_nodejs(\d+)/.exec(process.env['AWS_EXECUTION_ENV'] ?? '')?.[1] ?? 0) >= 24;
/** What console lines carry for the request id outside any invocation (during init). */
const NO_REQUEST_ID = RIC4 ? '-' : undefined;

/**
 * Bytes written to stdout and stderr so far. They go with each result (`Tributary-Log-End`, with
 * the peak RSS in KB that REPORT's Max Memory Used needs): the worker knows the invocation's log
 * is complete once it has read as much from each pipe, with no message of its own for that.
 */
const written = { stdout: 0, stderr: 0 };
for (const name of ['stdout', 'stderr'] as const) {
  const stream = process[name];
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    // Counted once Node has taken the chunk: a write that throws (a number, null) counts nothing.
    const taken = write(chunk, ...rest);
    if (typeof chunk === 'string') written[name] += Buffer.byteLength(chunk, typeof rest[0] === 'string' && Buffer.isEncoding(rest[0]) ? rest[0] : 'utf8');
    else if (ArrayBuffer.isView(chunk)) written[name] += chunk.byteLength;
    return taken;
  }) as typeof stream.write;
}
const logEnd = (): Record<string, string> => ({ 'Tributary-Log-End': `${written.stdout} ${written.stderr} ${process.resourceUsage().maxRSS}` });

const [apiHost = '127.0.0.1', apiPort = '9001'] = (process.env['AWS_LAMBDA_RUNTIME_API'] ?? '').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
/**
 * `http.request` as it is before function code loads. Tracers (the X-Ray SDK under Powertools'
 * Tracer, OpenTelemetry) replace the module's own to record outgoing calls: the runtime's calls
 * to its API would be traced as the function's, the first outside any invocation (an error line
 * at every cold start). AWS's runtime makes them with a native client, out of their reach.
 */
const apiRequest = http.request;

interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const call = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<ApiResponse> =>
  new Promise((done, fail) => {
    const req = apiRequest(
      { host: apiHost, port: Number(apiPort), method, path: `${RUNTIME_PATH}${path}`, agent, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(body);
  });

interface ErrorRecord {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
}

const isErrorLike = (value: unknown): value is Error => {
  if (types.isNativeError(value)) return true;
  const v = value as Partial<Record<'name' | 'message' | 'stack', unknown>> | null;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.message === 'string' && typeof v.stack === 'string' && v.name !== '' && v.message !== '' && v.stack !== '';
};

/**
 * AWS's shape for anything thrown (its Errors.js `toRapidResponse`): errors by name, message and
 * stack; anything else named after `typeof`, with `String(value)` as message (`throw {}` gives
 * "object" / "[object Object]"). A value that cannot even be described gets AWS's "handled" text.
 */
const toErrorRecord = (error: unknown): ErrorRecord => {
  try {
    // Version 4 (its formatError) takes Errors alone as errors, and writes DEL as %7F.
    if (RIC4 && error instanceof Error) {
      const clean = (text: string | undefined): string => text?.replaceAll('\x7F', '%7F') as string;
      return { errorType: clean(error.name), errorMessage: clean(error.message), stackTrace: clean(error.stack)?.split('\n') ?? [] };
    }
    if (!RIC4 && isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message, stackTrace: (error.stack as string).split('\n') };
    }
    return { errorType: typeof error, errorMessage: String(error), stackTrace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      stackTrace: [],
    };
  }
};

/**
 * The class of AWS's error of each type, which a JSON log record's `errorType` names (the error's
 * constructor): version 3's classes are named as the types (`HandlerNotFound`), version 4 adds
 * `Error` to some.
 */
const AWS_CLASS_NAMES = new WeakMap<Error, string>();
const RIC4_CLASS_NAMES: Record<string, string | undefined> = {
  HandlerNotFound: 'HandlerNotFoundError',
  MalformedHandlerName: 'MalformedHandlerNameError',
  CallbackHandlerDeprecated: 'CallbackHandlerDeprecatedError',
};

/**
 * An error named after an AWS error type such as `Runtime.HandlerNotFound`, its stack headed so.
 * Version 3 of AWS's runtime names its error classes on their prototypes, version 4 on each error,
 * which is what a logged error's JSON shows (a `name` field, or none).
 */
class RuntimeError extends Error {
  constructor(errorType: string, message: string) {
    super(message);
    Object.defineProperty(this, 'name', { value: errorType, enumerable: RIC4, writable: true, configurable: true });
    Error.captureStackTrace(this, RuntimeError);
    const short = errorType.replace(/^Runtime\./, '');
    AWS_CLASS_NAMES.set(this, (RIC4 && RIC4_CLASS_NAMES[short]) || short);
  }
}


let currentRequestId: string | undefined;
/**
 * The request id console lines carry: the invocation's, and after it the last one's, as AWS's
 * runtime keeps it (a timer that logs after its invocation answered names that invocation, not
 * "undefined"). Before the first invocation there is none.
 */
let loggedRequestId: string | undefined;

/** Longest error type sent as a header or trailer (the worker reads the type from the body first). */
const ERROR_TYPE_MAX = 1024;

/**
 * An error type as a header or trailer value: one that is not a header value (a newline, a
 * character outside Latin-1 in it) goes as AWS's fallback, and a long one is cut.
 */
const headerSafe = (value: string): string => {
  try {
    http.validateHeaderValue('x', value);
    return value.slice(0, ERROR_TYPE_MAX);
  } catch {
    return 'Unhandled';
  }
};

/** The levels of console methods, from the most verbose, as AWS's runtime orders them. */
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
/** LoggingConfig's JSON format (AWS_LAMBDA_LOG_FORMAT), else text. */
const jsonLogs = process.env['AWS_LAMBDA_LOG_FORMAT']?.toUpperCase() === 'JSON';
/** The least level logged (AWS_LAMBDA_LOG_LEVEL, which AWS sets from ApplicationLogLevel); all without it. */
const leastLevel = Math.max(0, LEVELS.indexOf(process.env['AWS_LAMBDA_LOG_LEVEL']?.toUpperCase() as (typeof LEVELS)[number]));

/** An error in a JSON record, as AWS's runtime writes one: type, message and stack as lines, then its own fields. */
const errorFields = (error: Error): Record<string, unknown> => ({
  errorType: AWS_CLASS_NAMES.get(error) ?? (error.constructor as { name?: string } | undefined)?.name ?? 'UnknownError',
  errorMessage: error.message,
  stackTrace: typeof error.stack === 'string' ? error.stack.split('\n') : error.stack,
  ...error,
});

/**
 * One console call as a JSON record (LogFormat JSON): timestamp, level, request id (none during
 * init) and message. One argument is the message as it is, errors in it as `errorFields` (as
 * formatted text when JSON cannot hold it: a cycle, a BigInt); several are formatted into one
 * string, the first error among them adding its fields beside.
 */
const jsonRecord = (level: string, params: unknown[]): string => {
  const record: Record<string, unknown> = { timestamp: new Date().toISOString(), level, requestId: loggedRequestId ?? NO_REQUEST_ID };
  if (params.length === 1) {
    try {
      return JSON.stringify({ ...record, message: params[0] }, (_key, value: unknown) => (value instanceof Error ? errorFields(value) : value));
    } catch {
      return JSON.stringify({ ...record, message: format(params[0]) });
    }
  }
  const error = params.find((param): param is Error => param instanceof Error);
  const { errorType, errorMessage, stackTrace } = error ? errorFields(error) : {};
  return JSON.stringify({ ...record, message: format(...params), ...(error ? { errorType, errorMessage, stackTrace } : {}) });
};

// Console lines as AWS writes them: in text, timestamp, request id, level, message; in JSON, a
// record (jsonRecord). A text message keeps its newlines, as AWS's log events do (its runtime
// writes each call as one event to a log socket; `\r` for `\n` is only its fallback for plain
// stdout, and shows as garbled lines in a Tail). console.fatal is AWS's own addition (level
// FATAL), and logs at any level; the others only from AWS_LAMBDA_LOG_LEVEL up. The message is
// always formatted as a first argument, as AWS's runtime does: `console.log()` logs `undefined`.
const levels: Array<[string, (typeof LEVELS)[number]]> = [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE'], ['fatal', 'FATAL']];
for (const [method, level] of levels) {
  const logged = level === 'FATAL' || LEVELS.indexOf(level) >= leastLevel;
  (console as unknown as Record<string, (...a: unknown[]) => void>)[method] = !logged
    ? () => undefined
    : jsonLogs
      ? (...params: unknown[]) => {
          process.stdout.write(`${jsonRecord(level, params.length === 0 ? [undefined] : params)}\n`);
        }
      : (message?: unknown, ...params: unknown[]) => {
          process.stdout.write(`${new Date().toISOString()}\t${loggedRequestId ?? NO_REQUEST_ID ?? 'undefined'}\t${level}\t${format(message, ...params)}\n`);
        };
}

const die = (): never => process.exit(1);

/**
 * A thrown value as AWS's runtime logs it (its Errors.js `toFormatted`): every error in it by
 * type, message and `code`, then its own enumerable fields (a `statusCode`, an SDK's `$metadata`)
 * and its stack as lines; anything else as JSON. What JSON cannot hold (a cycle, a BigInt) falls
 * back to the record posted to the Runtime API, as AWS's does.
 */
const formatThrown = (thrown: unknown, record: ErrorRecord): string => {
  try {
    return `\t${JSON.stringify(thrown, (_key, value: unknown) => {
      if (!(value instanceof Error)) return value;
      const shown: Record<string, unknown> = { errorType: value.name, errorMessage: value.message, code: (value as { code?: unknown }).code, ...value };
      if (typeof value.stack === 'string') shown.stack = value.stack.split('\n');
      return shown;
    })}`;
  } catch {
    return `\t${JSON.stringify({ errorType: record.errorType, errorMessage: record.errorMessage, trace: record.stackTrace })}`;
  }
};

/** A thrown value as an Error, as AWS's runtime makes one (its `intoError`): `new Error(String(value))`. */
const intoError = (thrown: unknown, record: ErrorRecord): Error => {
  if (thrown instanceof Error) return thrown;
  try {
    return new Error(String(thrown));
  } catch {
    return new Error(record.errorMessage); // an object without toString
  }
};

const logError = (label: string, thrown: unknown, record: ErrorRecord): void => {
  try {
    // In JSON, AWS's runtime logs the error alone, as a record's message (without the label).
    if (jsonLogs) console.error(intoError(thrown, record));
    else console.error(label, formatThrown(thrown, record));
  } catch {
    // A console the handler replaced must not keep the error from being reported.
  }
};

/**
 * Logs the error as AWS's Node.js runtime does (`ERROR\tInvoke Error \t{"errorType":…}` and the
 * like), then posts it to the Runtime API.
 */
const postError = async (path: string, thrown: unknown, record: ErrorRecord, label: string): Promise<void> => {
  logError(label, thrown, record);
  await call('POST', path, JSON.stringify(record), { 'Lambda-Runtime-Function-Error-Type': headerSafe(record.errorType), ...logEnd() }).catch(die);
};

type Callback = (error?: unknown, result?: unknown) => void;
type Handler = (event: unknown, context: unknown, callback?: Callback) => unknown;

/**
 * AWS's runtime calls a handler as a method of its Runtime object, one for the process: a
 * function handler's `this` is that object (what it keeps there lasts, as module state does), and
 * a stack trace names the call `Runtime.handler`, as in AWS's logs. Version 4 calls it from its
 * invoke processor, buffered or streaming, which its `this` and its stack frames name instead.
 */
class Runtime {
  constructor(readonly handler: Handler) {}
}
class BufferedInvokeProcessor extends Runtime {}
class StreamingInvokeProcessor extends Runtime {}

/** A handler that cannot be loaded, as each version of AWS's runtime logs it (4 catches it as its "Init Error"). */
const initError = async (error: unknown): Promise<never> => {
  await postError('/init/error', error, toErrorRecord(error), RIC4 ? 'Init Error' : 'Uncaught Exception');
  return die();
};

const AWS_TASK_ROOT = '/var/task';

const isFile = (path: string): boolean => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;

/**
 * The `require` AWS's runtime loads CommonJS handlers with, made in `/var/runtime/index.mjs`: a
 * handler's `module.parent` is that module (so `if (!module.parent) app.listen()` stays quiet)
 * and a require stack ends with it, as on AWS.
 */
const runtimeRequire = createRequire('/var/runtime/index.mjs');

/** Whether `.js` files in `folder` are ES modules: the nearest package.json says `"type": "module"` (AWS's check, which stops at node_modules). */
const typeModule = (folder: string): boolean => {
  if (folder.endsWith(`${sep}node_modules`)) return false;
  const manifest = join(folder, 'package.json');
  if (isFile(manifest)) {
    try {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown } | null;
      if (parsed) return parsed.type === 'module';
    } catch (error) {
      console.warn(`${manifest} cannot be read, it will be ignored for ES module detection purposes.`, error);
      return false;
    }
  }
  const parent = dirname(folder);
  return parent !== folder && typeModule(parent);
};

/**
 * What the module a handler names exports (`module.exports`, or an ES module's namespace), looked
 * for where AWS's UserFunction.js looks, in its order: the path itself (a file without an
 * extension, or a directory, required), `.js` (required, or imported under `"type": "module"`),
 * `.mjs` (imported), `.cjs` (required), then a package of that name in `node_modules`. A file
 * whose exports are falsy (`module.exports = null`) is passed over for the next, as AWS's `||`
 * chain passes it. Undefined when there is none.
 */
const loadModule = async (root: string, moduleRoot: string, moduleName: string): Promise<{ exports: unknown } | undefined> => {
  const base = resolve(root, moduleRoot, moduleName);
  const exists = (file: string): boolean => statSync(file, { throwIfNoEntry: false }) !== undefined;
  if (RIC4) {
    // Version 4 imports whatever is there, in the same order: Node.js decides what each file is.
    for (const file of [base, `${base}.js`, `${base}.mjs`, `${base}.cjs`]) {
      if (exists(file)) return { exports: (await import(pathToFileURL(file).href)) as unknown };
    }
  } else {
    const required = (file: string): unknown => (exists(file) ? runtimeRequire(file) : undefined);
    const imported = async (file: string): Promise<unknown> => (isFile(file) ? ((await import(pathToFileURL(file).href)) as unknown) : undefined);
    const esm = isFile(`${base}.js`) && typeModule(dirname(base));
    const exports =
      required(base) || (!esm && required(`${base}.js`)) || (esm && (await imported(`${base}.js`))) || (await imported(`${base}.mjs`)) || required(`${base}.cjs`);
    if (exports) return { exports };
  }
  let fromPackages: string;
  try {
    fromPackages = runtimeRequire.resolve(moduleName, { paths: [root, resolve(root, moduleRoot)] });
  } catch (error) {
    // Not there at all; anything else (a package whose exports hide it, say) is reported as thrown, as AWS's is.
    if ((error as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
  return { exports: runtimeRequire(fromPackages) };
};

// Handler strings are resolved as AWS's UserFunction.js does, with its messages.
const loadHandler = async (): Promise<Handler> => {
  const spec = process.env['_HANDLER'] ?? '';
  const root = process.env['LAMBDA_TASK_ROOT'] ?? process.cwd();
  if (spec.includes('..')) {
    return initError(new RuntimeError('Runtime.MalformedHandlerName', `'${spec}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`));
  }
  const slash = spec.lastIndexOf('/');
  const dir = spec.slice(0, slash + 1);
  const match = /^([^.]*)\.(.*)$/.exec(spec.slice(slash + 1));
  if (!match) return initError(new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler'));
  const [, moduleName = '', exportPath = ''] = match;
  // A handler may name its directory from AWS's task root; here the package is unpacked elsewhere.
  const moduleRoot = dir === AWS_TASK_ROOT || dir.startsWith(`${AWS_TASK_ROOT}/`) ? root + dir.slice(AWS_TASK_ROOT.length) : dir;
  let exported: unknown;
  try {
    const loaded = await loadModule(root, moduleRoot, moduleName);
    // AWS wraps the loader's error, so its message starts with the original's name ("Error: …").
    if (!loaded) {
      return initError(new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'\nRequire stack:\n- /var/runtime/index.mjs`));
    }
    exported = loaded.exports;
  } catch (error) {
    if (error instanceof SyntaxError) {
      const syntax = new RuntimeError('Runtime.UserCodeSyntaxError', String(error));
      // Version 4 keeps the original's stack, which says where in the file the error is.
      if (RIC4) syntax.stack = error.stack;
      return initError(syntax);
    }
    // Only CommonJS's MODULE_NOT_FOUND is an ImportModuleError on AWS; anything else (an ES
    // module's ERR_MODULE_NOT_FOUND too) is reported as it was thrown.
    if ((error as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') return initError(new RuntimeError('Runtime.ImportModuleError', String(error)));
    return initError(error);
  }
  // The path is walked on module.exports, or on an ES module's namespace: `index.default` is
  // TypeScript's and esbuild's `export default`. Version 3 stops there, so an ES module's
  // `export default { handler }` does not make `index.handler`; version 4 walks objects only,
  // and then the module's `default` export.
  const walk = (from: unknown): unknown =>
    exportPath.split('.').reduce<unknown>((obj, key) => (obj && (!RIC4 || typeof obj === 'object') ? (obj as Record<string, unknown>)[key] : undefined), from);
  let handler = walk(exported);
  if (!handler && RIC4 && typeof exported === 'object' && exported !== null && 'default' in exported) handler = walk(exported.default);
  if (!handler) return initError(new RuntimeError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`));
  if (typeof handler !== 'function') return initError(new RuntimeError('Runtime.HandlerNotFound', `${spec} is not a function`));
  return handler as Handler;
};

/**
 * "Async" as AWS decides it: the handler is an AsyncFunction. A plain function that returns a
 * promise is answered when that promise settles, but counts as synchronous if it never does.
 */
const isAsyncFunction = (fn: Handler): boolean => {
  try {
    return fn.constructor?.name === 'AsyncFunction';
  } catch {
    return false;
  }
};

/**
 * From Node.js 24 on, AWS's runtime refuses at init a handler that takes a callback, and it tells
 * one by its arity alone: three parameters or more, an `async` one too, unless it streams. Before,
 * it warns of a synchronous one with exactly three.
 */
const CALLBACK_HANDLER_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. You need to modify this function to use a supported handler signature to use Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';

/** What AWS's runtime before Node.js 24 logs at init for a handler that takes a callback. */
const CALLBACK_HANDLER_WARNING =
  'AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will need to update this function to use an async handler to use Node.js 24 or later. For more information and to provide feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';

/** AWS's Runtime.NodeJsExit (not confirmed word for word: see the runtime's Errors.js). */
const nodeJsExit = (): Error =>
  new RuntimeError(
    'Runtime.NodeJsExit',
    'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
  );

type Outcome = { ok: true; result: unknown } | { ok: false; error: unknown };

/**
 * AWS's `awslambda` global, which response-streaming handlers call as their module loads.
 * `streamifyResponse` marks a handler `(event, responseStream, context)`; invoked here (as by
 * AWS's plain Invoke) its stream is collected and answered whole. `HttpResponseStream.from`
 * writes the function-URL prelude (JSON metadata, then eight NUL bytes) as AWS's does.
 */
const streamingHandlers = new WeakSet<object>();

/**
 * The invoke store AWS's runtime keeps at `awslambda.InvokeStore`, which the npm package
 * `@aws/lambda-invoke-store` hands out (the AWS SDK v3's core reads the X-Ray trace id from it):
 * each invocation's request id and trace id under protected keys, and whatever the function sets,
 * gone at its next invocation. A copy of the package a function bundles finds this one there.
 */
const INVOKE_KEYS = {
  requestId: Symbol.for('_AWS_LAMBDA_REQUEST_ID'),
  traceId: Symbol.for('_AWS_LAMBDA_X_RAY_TRACE_ID'),
  tenantId: Symbol.for('_AWS_LAMBDA_TENANT_ID'),
  traceparent: Symbol.for('_AWS_LAMBDA_TRACEPARENT'),
  tracestate: Symbol.for('_AWS_LAMBDA_TRACESTATE'),
  baggage: Symbol.for('_AWS_LAMBDA_BAGGAGE'),
} as const;
const protectedKeys = new Set<PropertyKey>(Object.values(INVOKE_KEYS));
let invokeContext: Record<PropertyKey, unknown> | undefined;
const invokeStore = {
  isProtectedKey: (key: PropertyKey): boolean => protectedKeys.has(key),
  getContext: (): Record<PropertyKey, unknown> | undefined => invokeContext,
  hasContext: (): boolean => invokeContext !== undefined,
  get: (key: PropertyKey): unknown => invokeContext?.[key],
  set: (key: PropertyKey, value: unknown): void => {
    if (protectedKeys.has(key)) throw new Error(`Cannot modify protected Lambda context field: ${String(key)}`);
    (invokeContext ??= {})[key] = value;
  },
  run: <T>(context: Record<PropertyKey, unknown>, fn: () => T): T => {
    invokeContext = context;
    return fn();
  },
  getRequestId: (): unknown => invokeContext?.[INVOKE_KEYS.requestId] ?? '-',
  getXRayTraceId: (): unknown => invokeContext?.[INVOKE_KEYS.traceId],
  getTenantId: (): unknown => invokeContext?.[INVOKE_KEYS.tenantId],
  getTraceparent: (): unknown => invokeContext?.[INVOKE_KEYS.traceparent],
  getTracestate: (): unknown => invokeContext?.[INVOKE_KEYS.tracestate],
  getBaggage: (): unknown => invokeContext?.[INVOKE_KEYS.baggage],
};

// AWS's escape hatch for handlers that expect the global object untouched.
const noGlobal = ['1', 'true'].includes(process.env['AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA'] ?? '');
if (!noGlobal) Object.assign(globalThis, {
  awslambda: {
    InvokeStore: invokeStore,
    streamifyResponse: <H extends object>(handler: H): H => {
      streamingHandlers.add(handler);
      return handler;
    },
    HttpResponseStream: {
      // As AWS's: the stream's type becomes the HTTP integration's (too late once bytes went),
      // and the prelude goes just before the first write.
      from: (stream: Writable & { setContentType?: (type: string) => void; _onBeforeFirstWrite?: unknown }, metadata: unknown): Writable => {
        stream.setContentType?.('application/vnd.awslambda.http-integration-response');
        const prelude = JSON.stringify(metadata ?? {});
        stream._onBeforeFirstWrite = (write: (chunk: string | Uint8Array) => void) => {
          write(prelude);
          write(new Uint8Array(8));
        };
        return stream;
      },
    },
  },
});

/**
 * Base64 characters of an error record in a trailer at most: the worker's Runtime API takes 256 KB
 * of headers and trailers (Node's default, 16 KB, would refuse a long stack), and a larger record
 * loses its stack, then halves of its message, until it fits.
 */
const TRAILER_ERROR_CHARS = 192 * 1024;

const trailerError = (record: ErrorRecord): string => {
  const encode = (r: ErrorRecord): string => Buffer.from(JSON.stringify(r)).toString('base64');
  let fitted: ErrorRecord = { ...record, errorType: record.errorType.slice(0, ERROR_TYPE_MAX) };
  let encoded = encode(fitted);
  if (encoded.length > TRAILER_ERROR_CHARS) fitted = { ...fitted, stackTrace: [] };
  for (encoded = encode(fitted); encoded.length > TRAILER_ERROR_CHARS && fitted.errorMessage !== ''; encoded = encode(fitted)) {
    fitted = { ...fitted, errorMessage: fitted.errorMessage.slice(0, Math.floor(fitted.errorMessage.length / 2)) };
  }
  return encoded;
};

/**
 * The streaming response under way: a crash outside the handler (an uncaught exception, an
 * unhandled rejection) must end it with the error, since a second request would queue behind it
 * on the runtime's one connection.
 */
let openStream: { fail: (record: ErrorRecord) => Promise<void> } | undefined;

/**
 * Runs a streaming handler, sending its bytes to the Runtime API as it writes them, as AWS's
 * runtime does: one POST to `/response` in the streaming response mode (chunked), opened by the
 * first write; an error once bytes have gone is reported in its trailers. AWS requires the
 * handler be async and the stream ended. Resolves to 'streamed' once the POST has been answered,
 * or to the outcome to post the usual way when nothing was written before the end or the error.
 */
const invokeStreaming = async (runtime: Runtime, event: unknown, context: Record<string, unknown>, requestId: string): Promise<Outcome | 'streamed'> => {
  let contentType = 'application/octet-stream';
  let request: http.ClientRequest | undefined;
  let answered: Promise<unknown> | undefined;
  let ended = false;
  /** Ends the POST, once: trailers with the log's end and, for a failure, the error. */
  const close = async (record?: ErrorRecord): Promise<void> => {
    if (!request || ended) return;
    ended = true;
    const trailers: Record<string, string> = record
      ? { 'Lambda-Runtime-Function-Error-Type': headerSafe(record.errorType), 'Lambda-Runtime-Function-Error-Body': trailerError(record) }
      : {};
    request.addTrailers({ ...trailers, ...logEnd() });
    request.end();
    await answered;
  };
  const open = (): http.ClientRequest => {
    if (request) return request;
    const opened = apiRequest({
      host: apiHost,
      port: Number(apiPort),
      method: 'POST',
      path: `${RUNTIME_PATH}/invocation/${requestId}/response`,
      agent,
      headers: {
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        'Content-Type': contentType,
        Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body, Tributary-Log-End',
      },
    });
    // Each write goes at once: Nagle's algorithm would hold a small one back for the last one's ACK.
    opened.setNoDelay(true);
    answered = new Promise((done, fail) => {
      opened.on('response', (res) => {
        res.resume();
        res.on('end', done);
        res.on('error', fail);
      });
      opened.on('error', fail);
    });
    answered.catch(() => undefined); // awaited in close(); not an unhandled rejection before
    request = opened;
    openStream = { fail: close };
    return opened;
  };
  const responseStream = new Writable({
    // Taken once the bytes are on their way: a handler that writes faster than they go is held back.
    write(chunk: Buffer, _encoding, next) {
      if (ended) return next(); // the stream was ended for a crash: what is still queued is dropped
      open().write(chunk, (error) => next(error ?? undefined));
    },
  });
  // A write that failed (the Runtime API gone) ends in close(): the handler's outcome says the rest.
  responseStream.on('error', () => undefined);
  // As AWS's response stream: setContentType (before the first write; only a function URL's
  // caller sees the type), and chunks that are neither strings nor bytes as JSON.
  const write = responseStream.write.bind(responseStream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const end = responseStream.end.bind(responseStream) as (chunk?: unknown, ...rest: unknown[]) => Writable;
  const bytes = (chunk: unknown): unknown => (typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk));
  let wroteAny = false;
  /** AWS's hook for what goes before the first write (HttpResponseStream's prelude). */
  const beforeFirstWrite = (): void => {
    if (wroteAny) return;
    wroteAny = true;
    const hook = (responseStream as Writable & { _onBeforeFirstWrite?: unknown })._onBeforeFirstWrite;
    if (typeof hook === 'function') (hook as (w: (chunk: unknown) => boolean) => void)((chunk) => write(bytes(chunk)));
  };
  Object.assign(responseStream, {
    setContentType: (type: string): void => {
      if (wroteAny) throw new RuntimeError('Runtime.InvalidStreamingOperation', 'Cannot set content-type, too late.');
      try {
        http.validateHeaderValue('content-type', type);
        contentType = type;
      } catch {
        // Not a header value: the stream keeps the type it has.
      }
    },
    write: (chunk: unknown, ...rest: unknown[]) => {
      beforeFirstWrite();
      return write(bytes(chunk), ...rest);
    },
    end: (chunk?: unknown, ...rest: unknown[]) => {
      if (chunk === undefined || typeof chunk === 'function') return end(chunk, ...rest);
      beforeFirstWrite();
      return end(bytes(chunk), ...rest);
    },
  });
  let outcome: Outcome = { ok: true, result: Buffer.alloc(0) };
  try {
    const returned = (runtime as unknown as { handler: (e: unknown, s: Writable, c: unknown) => unknown }).handler(event, responseStream, context);
    if (!returned || typeof (returned as PromiseLike<unknown>).then !== 'function') {
      outcome = { ok: false, error: new Error('Streaming does not support non-async handlers.') };
    } else {
      if ((await returned) !== undefined) console.warn('Streaming handlers ignore return values.');
      if (!responseStream.writableEnded) outcome = { ok: false, error: new Error('Response stream is not finished.') };
    }
  } catch (error) {
    outcome = { ok: false, error };
  }
  // The invocation is over for the stream: a timer's later write fails rather than open a POST for
  // a request id that is done (it would hold the runtime's one connection). Bytes written before
  // the end, the failure or the return go out first: one still queued would come after the end.
  if (!responseStream.writableEnded) responseStream.end();
  if (request && !responseStream.writableFinished) await finished(responseStream).catch(() => undefined);
  openStream = undefined;
  if (!request) return outcome;
  if (outcome.ok) {
    await close().catch(die);
  } else {
    const record = toErrorRecord(outcome.error);
    logError('Invoke Error', intoError(outcome.error, record), record);
    await close(record).catch(die);
  }
  return 'streamed';
};

/**
 * What the running invocation does once the event loop runs dry ('beforeExit'). It cannot fire
 * while the runtime waits on the Runtime API (an open request keeps the loop alive); the keep-alive
 * agent's idle socket and the parent watch are unref'd, so only the handler's own work counts.
 */
let onLoopEmpty: (() => void) | undefined;
process.on('beforeExit', () => {
  const listener = onLoopEmpty;
  onLoopEmpty = undefined;
  listener?.();
});

/** Runs the handler with AWS's callback, context.done/succeed/fail and callbackWaitsForEmptyEventLoop. */
const invoke = (runtime: Runtime, isAsync: boolean, event: unknown, context: Record<string, unknown>): Promise<Outcome> =>
  new Promise((finish) => {
    let finished = false;
    const end = (outcome: Outcome): void => {
      if (finished) return;
      finished = true;
      onLoopEmpty = undefined;
      finish(outcome);
    };
    // A handler with nothing left to run and no answer: AWS answers null (a synchronous return
    // value is ignored), or Runtime.NodeJsExit for an async function whose promise never settled.
    onLoopEmpty = () => end(isAsync ? { ok: false, error: nodeJsExit() } : { ok: true, result: null });

    let waits: unknown = true;
    let answered = false;
    // Only the first call of any of callback, done, succeed and fail counts.
    const once =
      <A extends unknown[]>(fn: (...args: A) => void) =>
      (...args: A): void => {
        if (answered) return;
        answered = true;
        fn(...args);
      };
    const done = (error?: unknown, result?: unknown): void => end(error !== undefined && error !== null ? { ok: false, error } : { ok: true, result });
    const callback = once((error?: unknown, result?: unknown): void => {
      // A callback kept past its invocation's end (a timer) must not take over the next one's.
      if (finished) return;
      if (error !== undefined && error !== null) return end({ ok: false, error });
      // The answer waits for what the handler left running, unless it said not to.
      if (waits) onLoopEmpty = () => end({ ok: true, result });
      else end({ ok: true, result });
    });
    const succeed = once((result?: unknown) => done(null, result));
    const fail = once((error?: unknown) => done(error ?? 'handled'));
    Object.defineProperty(context, 'callbackWaitsForEmptyEventLoop', { get: () => waits, set: (value: unknown) => (waits = value), enumerable: true });
    Object.assign(context, { done: once(done), succeed, fail });
    try {
      const returned = runtime.handler(event, context, callback);
      if (returned && typeof (returned as PromiseLike<unknown>).then === 'function') (returned as PromiseLike<unknown>).then(succeed, fail);
    } catch (error) {
      // As on AWS, a throw goes through the callback: `throw null` from a synchronous handler is a success.
      callback(error);
    }
  });

/**
 * Runs the handler as version 4 of AWS's runtime does (`await handler(event, context)`): what it
 * returns is the answer, a promise's once it settles, at once, whatever it left running. One whose
 * promise never settles, with nothing else left to run, fails with Runtime.NodeJsExit, as above.
 */
const invokeAwaited = (runtime: Runtime, event: unknown, context: Record<string, unknown>): Promise<Outcome> =>
  new Promise((finish) => {
    const end = (outcome: Outcome): void => {
      onLoopEmpty = undefined;
      finish(outcome);
    };
    onLoopEmpty = () => end({ ok: false, error: nodeJsExit() });
    (async () => runtime.handler(event, context))().then(
      (result: unknown) => end({ ok: true, result }),
      (error: unknown) => end({ ok: false, error }),
    );
  });

/** Set by a crash: the process is on its way out and must not ask for another invocation. */
let dying = false;
/**
 * Set once the first invocation has come. Until then a crash is the init's, as AWS's runtime
 * keeps its init error callbacks until its first /next is answered: a rejection or a timer's
 * throw that the module's code left behind fails the init, not a later, innocent invocation.
 * After it, a crash with no invocation running is nobody's.
 */
let initialized = false;

/**
 * Reports a crash outside the handler's own outcome, then exits: at the end of a stream under
 * way, or as the running invocation's (or the init's) error. While idle there is nobody to tell:
 * an /error would wait behind the pending /next and fail the next, innocent, invocation.
 */
const crashed = (thrown: unknown, record: ErrorRecord, label: string): void => {
  dying = true;
  const stream = openStream;
  openStream = undefined;
  if (!stream && !currentRequestId && initialized) {
    logError(label, thrown, record);
    return die();
  }
  if (stream) {
    logError(label, thrown, record);
    void stream.fail(record).catch(() => undefined).finally(die);
    return;
  }
  void postError(currentRequestId ? `/invocation/${currentRequestId}/error` : '/init/error', thrown, record, label).finally(die);
};
process.on('uncaughtException', (error) => crashed(error, toErrorRecord(error), 'Uncaught Exception'));
process.on('unhandledRejection', (reason, promise) => {
  // AWS's UnhandledPromiseRejection (version 3's index.mjs and Errors.js): `new Error(reason)`'s
  // message ("Error: message" for an Error, "" for no reason, "null" for null), the reason itself
  // and the promise as its fields, and its own stack as the trace posted, headed
  // "Runtime.UnhandledPromiseRejection: Error: message".
  let message = '';
  try {
    message = new Error(reason as string).message;
  } catch {
    // A reason that cannot be made a string (an object without toString): no message.
  }
  const error = Object.assign(new RuntimeError('Runtime.UnhandledPromiseRejection', message), { reason, promise });
  crashed(error, toErrorRecord(error), 'Unhandled Promise Rejection');
});

// A sandbox must not outlive its worker: if the worker dies (SIGKILL), this process is
// re-parented, and a handler that never returns would otherwise run on forever.
const workerPid = process.ppid;
setInterval(() => {
  if (process.ppid !== workerPid) process.exit(1);
}, 1000).unref();

const handler = await loadHandler();
const handlerIsAsync = isAsyncFunction(handler);
const runtime = !RIC4 ? new Runtime(handler) : streamingHandlers.has(handler) ? new StreamingInvokeProcessor(handler) : new BufferedInvokeProcessor(handler);
if (streamingHandlers.has(handler)) {
  // Its third parameter is its context, not a callback.
} else if (RIC4 && handler.length >= 3) {
  await initError(new RuntimeError('Runtime.CallbackHandlerDeprecated', CALLBACK_HANDLER_REMOVED));
} else if (handler.length === 3 && !handlerIsAsync && process.env['AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING'] === undefined) {
  console.warn(CALLBACK_HANDLER_WARNING);
}
const functionName = process.env['AWS_LAMBDA_FUNCTION_NAME'] ?? '';
for (;;) {
  // A crash has ended the last invocation's stream: this process exits once that is answered.
  if (dying) await new Promise<never>(() => undefined);
  const next = await call('GET', '/invocation/next').catch(die);
  if (next.status !== 200) die();
  if (dying) await new Promise<never>(() => undefined); // the init failed meanwhile
  initialized = true;
  const requestId = String(next.headers['lambda-runtime-aws-request-id']);
  const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
  const clientContext = next.headers['lambda-runtime-client-context'];
  const traceId = next.headers['lambda-runtime-trace-id'];
  currentRequestId = requestId;
  loggedRequestId = requestId;
  // X-Ray's trace header, per invocation, as AWS's InvokeContext forwards it.
  if (typeof traceId === 'string' && traceId) process.env['_X_AMZN_TRACE_ID'] = traceId;
  else delete process.env['_X_AMZN_TRACE_ID'];
  const context: Record<string, unknown> = RIC4
    ? {
        // Version 4's ContextBuilder: these members, in this order, and none of the callback era's.
        clientContext: typeof clientContext === 'string' && clientContext ? (JSON.parse(clientContext) as unknown) : undefined,
        identity: undefined,
        invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: requestId,
        tenantId: undefined,
        xRayTraceId: typeof traceId === 'string' && traceId ? traceId : undefined,
        getRemainingTimeInMillis: () => deadline - Date.now(),
        functionName,
        functionVersion: process.env['AWS_LAMBDA_FUNCTION_VERSION'],
        memoryLimitInMB: process.env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'],
        logGroupName: process.env['AWS_LAMBDA_LOG_GROUP_NAME'],
        logStreamName: process.env['AWS_LAMBDA_LOG_STREAM_NAME'],
      }
    : {
        functionName,
        functionVersion: process.env['AWS_LAMBDA_FUNCTION_VERSION'],
        invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
        memoryLimitInMB: process.env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'],
        awsRequestId: requestId,
        logGroupName: process.env['AWS_LAMBDA_LOG_GROUP_NAME'],
        logStreamName: process.env['AWS_LAMBDA_LOG_STREAM_NAME'],
        identity: undefined,
        clientContext: typeof clientContext === 'string' && clientContext ? (JSON.parse(clientContext) as unknown) : undefined,
        // As AWS's (its ContextBuilder): past the deadline it goes negative, as a context kept from an earlier invocation shows.
        getRemainingTimeInMillis: () => deadline - Date.now(),
      };
  let event: unknown;
  try {
    event = JSON.parse(next.body || 'null');
  } catch {
    event = next.body;
  }
  invokeContext = { [INVOKE_KEYS.requestId]: requestId, ...(typeof traceId === 'string' && traceId ? { [INVOKE_KEYS.traceId]: traceId } : {}) };
  const streaming = streamingHandlers.has(handler);
  const done = streaming
    ? await invokeStreaming(runtime, event, context, requestId)
    : RIC4
      ? await invokeAwaited(runtime, event, context)
      : await invoke(runtime, handlerIsAsync, event, context);
  if (done === 'streamed') {
    currentRequestId = undefined;
    continue;
  }
  let outcome = done;
  let body: string | Buffer | undefined;
  if (outcome.ok && streaming) {
    body = outcome.result as Buffer;
  } else if (outcome.ok) {
    try {
      body = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    } catch {
      // BigInt, cycles: AWS's client fails the invocation with this error (a plain Error before version 4).
      outcome = { ok: false, error: RIC4 ? new RuntimeError('Runtime.JSONStringifyError', 'Unable to stringify response body') : new Error('Unable to stringify response body') };
    }
  }
  if (outcome.ok) await call('POST', `/invocation/${requestId}/response`, body, logEnd()).catch(die);
  else {
    // An invocation's error is logged as an Error made of it (a thrown string as Error: <it>); its record keeps the value's type.
    const record = toErrorRecord(outcome.error);
    await postError(`/invocation/${requestId}/error`, intoError(outcome.error, record), record, 'Invoke Error');
  }
  currentRequestId = undefined;
}
