// Tributary's Node.js runtime: the process inside a sandbox. It speaks the Lambda Runtime API
// like AWS's own Node.js runtime and may import nothing but Node's built-ins, because it runs
// inside the function's task root.
import http from 'node:http';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const RUNTIME_PATH = '/2018-06-01/runtime';

/**
 * Bytes written to stdout and stderr so far. They go with each result (`Tributary-Log-End`, with
 * the peak RSS in KB that REPORT's Max Memory Used needs): the worker knows the invocation's log
 * is complete once it has read as much from each pipe, with no message of its own for that.
 */
const written = { stdout: 0, stderr: 0 };
for (const name of ['stdout', 'stderr'] as const) {
  const stream = process[name];
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    written[name] += typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8') : chunk.byteLength;
    return write(chunk, ...rest);
  }) as typeof stream.write;
}
const logEnd = (): Record<string, string> => ({ 'Tributary-Log-End': `${written.stdout} ${written.stderr} ${process.resourceUsage().maxRSS}` });

const [apiHost = '127.0.0.1', apiPort = '9001'] = (process.env['AWS_LAMBDA_RUNTIME_API'] ?? '').split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const call = (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<ApiResponse> =>
  new Promise((done, fail) => {
    const req = http.request(
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

/** AWS's shape for anything thrown; non-Errors are named after their type, as AWS's runtime does. */
const toErrorRecord = (error: unknown, type?: string): ErrorRecord => {
  if (error instanceof Error) {
    return {
      errorType: type ?? error.name ?? 'Error',
      errorMessage: error.message,
      stackTrace: (error.stack ?? `${error.name}: ${error.message}`).split('\n'),
    };
  }
  const message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  return { errorType: type ?? (error === null ? 'null' : typeof error), errorMessage: message, stackTrace: [] };
};

let currentRequestId: string | undefined;

// Console lines as AWS writes them: timestamp, request id, level, message; newlines become \r
// so that one call stays one log event.
const levels: Array<[keyof Console, string]> = [['log', 'INFO'], ['info', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'], ['debug', 'DEBUG'], ['trace', 'TRACE']];
for (const [method, level] of levels) {
  (console as unknown as Record<string, (...a: unknown[]) => void>)[method] = (...args: unknown[]) => {
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${format(...args).replace(/\n/g, '\r')}\n`);
  };
}

const die = (): never => process.exit(1);

/**
 * Logs the error as AWS's Node.js runtime does (`ERROR\tInvoke Error \t{"errorType":…}` and the
 * like), then posts it to the Runtime API.
 */
const postError = async (path: string, record: ErrorRecord, label: string): Promise<void> => {
  try {
    console.error(label, `\t${JSON.stringify({ errorType: record.errorType, errorMessage: record.errorMessage, stack: record.stackTrace })}`);
  } catch {
    // A console the handler replaced must not keep the error from being reported.
  }
  await call('POST', path, JSON.stringify(record), { 'Lambda-Runtime-Function-Error-Type': record.errorType, ...logEnd() }).catch(die);
};

type Handler = (event: unknown, context: unknown, callback?: (error?: unknown, result?: unknown) => void) => unknown;

const initError = async (errorType: string, error: unknown): Promise<never> => {
  await postError('/init/error', toErrorRecord(error, errorType), 'Uncaught Exception');
  return die();
};

const loadHandler = async (): Promise<Handler> => {
  const spec = process.env['_HANDLER'] ?? '';
  const root = process.env['LAMBDA_TASK_ROOT'] ?? process.cwd();
  const slash = spec.lastIndexOf('/');
  const dir = spec.slice(0, slash + 1);
  const rest = spec.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) {
    return initError('Runtime.MalformedHandlerName', new Error(`Bad handler ${spec}`));
  }
  const moduleName = rest.slice(0, dot);
  const exportPath = rest.slice(dot + 1);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => resolve(root, dir, `${moduleName}${ext}`)).find((f) => existsSync(f));
  if (!file) {
    return initError('Runtime.ImportModuleError', new Error(`Cannot find module '${dir}${moduleName}'\nRequire stack:\n- /var/runtime/index.mjs`));
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof SyntaxError) return initError('Runtime.UserCodeSyntaxError', error);
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return initError('Runtime.ImportModuleError', error);
    return initError((error as Error).name ?? 'Error', error);
  }
  const walk = (from: unknown): unknown =>
    exportPath.split('.').reduce<unknown>((obj, key) => (obj === null || obj === undefined ? undefined : (obj as Record<string, unknown>)[key]), from);
  // CommonJS modules loaded through import() expose module.exports as `default`.
  const handler = walk(namespace) ?? walk(namespace['default']);
  if (typeof handler !== 'function') {
    return initError('Runtime.HandlerNotFound', new Error(`${moduleName}.${exportPath} is undefined or not exported`));
  }
  return handler as Handler;
};

const runHandler = (handler: Handler, event: unknown, context: Record<string, unknown>): Promise<unknown> =>
  new Promise((resolveResult, rejectResult) => {
    let settled = false;
    const settle = (error: unknown, result?: unknown): void => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) rejectResult(error);
      else resolveResult(result);
    };
    const callback = (error?: unknown, result?: unknown): void => settle(error, result);
    Object.assign(context, {
      done: callback,
      succeed: (result: unknown) => settle(undefined, result),
      fail: (error: unknown) => settle(error ?? new Error('handled')),
    });
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') {
        (returned as Promise<unknown>).then((r) => settle(undefined, r), (e: unknown) => settle(e ?? new Error('Promise rejected')));
      } else if (handler.length < 3) {
        settle(undefined, returned);
      }
    } catch (error) {
      settle(error);
    }
  });

process.on('uncaughtException', (error) => {
  void postError(currentRequestId ? `/invocation/${currentRequestId}/error` : '/init/error', toErrorRecord(error), 'Uncaught Exception').finally(die);
});
process.on('unhandledRejection', (reason) => {
  const record = toErrorRecord(reason instanceof Error ? reason : new Error(String(reason)), 'Runtime.UnhandledPromiseRejection');
  record.errorMessage = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  void postError(currentRequestId ? `/invocation/${currentRequestId}/error` : '/init/error', record, 'Unhandled Promise Rejection').finally(die);
});

// A sandbox must not outlive its worker: if the worker dies (SIGKILL), this process is
// re-parented, and a handler that never returns would otherwise run on forever.
const workerPid = process.ppid;
setInterval(() => {
  if (process.ppid !== workerPid) process.exit(1);
}, 1000).unref();

const handler = await loadHandler();
const functionName = process.env['AWS_LAMBDA_FUNCTION_NAME'] ?? '';
for (;;) {
  const next = await call('GET', '/invocation/next').catch(die);
  if (next.status !== 200) die();
  const requestId = String(next.headers['lambda-runtime-aws-request-id']);
  const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
  const clientContext = next.headers['lambda-runtime-client-context'];
  currentRequestId = requestId;
  const context: Record<string, unknown> = {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: process.env['AWS_LAMBDA_FUNCTION_VERSION'],
    invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'],
    awsRequestId: requestId,
    logGroupName: process.env['AWS_LAMBDA_LOG_GROUP_NAME'],
    logStreamName: process.env['AWS_LAMBDA_LOG_STREAM_NAME'],
    identity: undefined,
    clientContext: typeof clientContext === 'string' && clientContext ? (JSON.parse(clientContext) as unknown) : undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let event: unknown;
  try {
    event = JSON.parse(next.body || 'null');
  } catch {
    event = next.body;
  }
  // A handler whose promise never settles must time out, not let the process run out of work.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    const result = await runHandler(handler, event, context);
    const body = JSON.stringify(result === undefined ? null : result);
    await call('POST', `/invocation/${requestId}/response`, body, logEnd()).catch(die);
  } catch (error) {
    await postError(`/invocation/${requestId}/error`, toErrorRecord(error), 'Invoke Error');
  } finally {
    clearInterval(keepAlive);
  }
  currentRequestId = undefined;
}
