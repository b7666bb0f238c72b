import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogLines, billedDuration, fitLog, initReportLine, logTail, reportLine, timeoutMessage } from './log-frame.js';

describe('log framing', () => {
  it('writes the REPORT line as AWS does, with Init Duration only on a cold start', () => {
    assert.equal(
      reportLine('r1', { durationMs: 12.344, memorySizeMb: 128, maxMemoryUsedMb: 45 }),
      'REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 45 MB\t',
    );
    assert.match(reportLine('r1', { durationMs: 1, memorySizeMb: 128, maxMemoryUsedMb: 45, initDurationMs: 150.5 }), /Init Duration: 150\.50 ms\t$/);
  });

  it('ends the REPORT line with how the platform ended an invocation, as AWS now writes it', () => {
    const figures = { durationMs: 3016.78, memorySizeMb: 128, maxMemoryUsedMb: 31, initDurationMs: 84 };
    assert.match(reportLine('r1', { ...figures, fault: { status: 'timeout' } }), /\tInit Duration: 84\.00 ms\tStatus: timeout\t$/);
    assert.match(reportLine('r1', { ...figures, fault: { status: 'error', errorType: 'Runtime.ExitError' } }), /\tInit Duration: 84\.00 ms\tStatus: error\tError Type: Runtime\.ExitError\t$/);
  });

  it('bills whole milliseconds, at least one', () => {
    assert.equal(billedDuration(0.2), 1);
    assert.equal(billedDuration(2.01), 3);
  });

  it('reports an init that failed or ran out of time as AWS does, in text and as a JSON log record', () => {
    assert.equal(initReportLine(10000.5, 'init', { status: 'timeout' }), 'INIT_REPORT Init Duration: 10000.50 ms\tPhase: init\tStatus: timeout');
    assert.equal(initReportLine(9.09, 'invoke', { status: 'error', errorType: 'Runtime.ImportModuleError' }), 'INIT_REPORT Init Duration: 9.09 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError');
    const record = JSON.parse(initReportLine(9.094, 'init', { status: 'error', errorType: 'Runtime.ExitError' }, { systemLogLevel: 'INFO' }) ?? '{}') as { type: string; record: unknown };
    assert.equal(record.type, 'platform.initReport');
    assert.deepEqual(record.record, { initializationType: 'on-demand', phase: 'init', status: 'error', errorType: 'Runtime.ExitError', metrics: { durationMs: 9.09 } });
    assert.equal(initReportLine(1, 'init', { status: 'timeout' }, { systemLogLevel: 'WARN' }), undefined);
  });

  it('bills a cold start its init too, as AWS has since August 2025', () => {
    assert.equal(billedDuration(4.8, 77.39), 83);
    assert.match(reportLine('r1', { durationMs: 4.8, memorySizeMb: 128, maxMemoryUsedMb: 45, initDurationMs: 77.39 }), /\tDuration: 4\.80 ms\tBilled Duration: 83 ms\t.*\tInit Duration: 77\.39 ms\t$/);
  });

  it('keeps the last 4 KB of the log for Tail', () => {
    const text = `${'x'.repeat(5000)}END`;
    const tail = Buffer.from(logTail(text), 'base64').toString();
    assert.equal(tail.length, 4096);
    assert.ok(tail.endsWith('END'));
  });

  it('words a timeout like AWS', () => {
    assert.equal(timeoutMessage('abc', 3), 'RequestId: abc Error: Task timed out after 3.00 seconds');
  });

  it('fits a log larger than a message by dropping its start and saying so', () => {
    const small = 'START\nhello\nEND\nREPORT\n';
    assert.equal(fitLog(small, 4096), small);
    const big = `START\n${'x'.repeat(10_000)}\nEND RequestId: r1\nREPORT RequestId: r1\n`;
    const fitted = fitLog(big, 4096);
    assert.ok(Buffer.byteLength(fitted) <= 4096 - 1024, String(Buffer.byteLength(fitted)));
    assert.match(fitted, /^\[tributary\] \d+ bytes at the start of this invocation's log were dropped\n/);
    assert.ok(fitted.endsWith('END RequestId: r1\nREPORT RequestId: r1\n'));
  });

  it('holds about the last part of a log that grows without bound, and says what it dropped', () => {
    const lines = new LogLines(100);
    for (let i = 0; i < 1000; i += 1) lines.push(`line ${String(i).padStart(4, '0')}`);
    const kept = lines.take();
    assert.match(kept[0] ?? '', /^\[tributary\] \d+ characters of log output were dropped here$/);
    assert.equal(kept.at(-1), 'line 0999');
    assert.ok(kept.join('\n').length < 300, String(kept.join('\n').length));
    assert.deepEqual(lines.take(), []);
    lines.push('short');
    assert.deepEqual(lines.take(), ['short']);
  });
});
