// The usage report reads lines of the gateway's shape without JSON.parse (fast-fields.ts). A
// differential test: for every line, the fast answer equals JSON.parse's (the same line, spaced
// out so that only JSON.parse can read it), and lines the fast path must not read go to JSON.parse.
import { describe, expect, it } from 'vitest';
import { GROUP_BYS, readAuditLine } from '../../compiler/usage/audit-event.ts';
import { fastFields } from '../../compiler/usage/fast-fields.ts';
import { auditLog } from '../support/audit-log.ts';

/** The same JSON value, with whitespace after every separator: never of the fast path's shape. */
const spaced = (line: string): string => JSON.stringify(JSON.parse(line), null, 1);

const tricky = [
  // Escapes in the group's value, and text that looks like members inside a string.
  String.raw`{"level":"info","time":1764500000000,"audit":true,"principal":"al\"ice,\"status\":999","model":"a{\"b\"}","status":200,"latency_ms":1.5,"msg":"request"}`,
  String.raw`{"level":"info","time":"2026-11-30T10:00:00.000Z","audit":true,"principal":"\u0061lice \\","status":403,"decision":"deny","latency_ms":0.2,"msg":"request"}`,
  `{"audit":true,"time":1,"status":500,"principal":"x","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"latency_ms":1e3}`,
  `{"level":"info","time":5,"audit":true,"status":401,"auth_failure":"revoked","credential_id":"Q9x2LmPzT0aa","latency_ms":0.1,"msg":"request"}`,
];

describe('when a line is of the gateway’s shape', () => {
  it('reads every generated line on the fast path, with JSON.parse’s answer', () => {
    let fast = 0;
    for (const line of auditLog({ seed: 5, lines: 2000, startMs: 1_764_500_000_000 })) {
      for (const by of GROUP_BYS) expect(readAuditLine(line, by), line).toEqual(readAuditLine(spaced(line), by));
      if (fastFields(line, 'principal') !== null) fast++;
    }
    // Every audit line (the operations lines, about 3%, are JSON.parse's).
    expect(fast).toBeGreaterThan(1900);
  });

  it('gives JSON.parse’s answer for escapes and member-like text inside strings', () => {
    for (const line of tricky) {
      expect(fastFields(line, 'principal'), line).not.toBeNull();
      for (const by of GROUP_BYS) expect(readAuditLine(line, by), line).toEqual(readAuditLine(spaced(line), by));
    }
    expect(readAuditLine(tricky[0] as string, 'principal')).toMatchObject({ group: 'al"ice,"status":999' });
  });
});

describe('when a line is not of that shape', () => {
  it('leaves two lines run together to JSON.parse, which calls them malformed', () => {
    const [a, b] = [...auditLog({ seed: 9, lines: 2, startMs: 0 })] as [string, string];
    const merged = a.slice(0, 60) + b;
    expect(fastFields(merged, 'principal')).toBeNull();
    expect(readAuditLine(merged, 'principal')).toBe('malformed');
  });

  it('leaves nested objects, arrays and truncated lines to JSON.parse', () => {
    for (const line of [
      '{"audit":true,"time":1,"status":200,"principal":"x","extra":{"a":1}}',
      '{"audit":true,"time":1,"status":200,"principal":"x","tags":["a"]}',
      '{"audit":true,"time":1,"status":',
      '{"audit":true,"time":1,"status":200,"usage":{"prompt_tokens":1,"details":{"x":1}}}',
    ]) {
      expect(fastFields(line, 'principal'), line).toBeNull();
    }
    expect(readAuditLine('{"audit":true,"time":1,"status":200,"principal":"x","tags":["a"]}', 'principal')).toMatchObject({ group: 'x' });
    expect(readAuditLine('{"audit":true,"time":1,"status":', 'principal')).toBe('malformed');
    // A bracket inside a string is only slower: JSON.parse reads that line.
    const bracket = '{"audit":true,"time":1,"status":200,"model":"m[1]","principal":"x"}';
    expect(fastFields(bracket, 'model')).toBeNull();
    expect(readAuditLine(bracket, 'model')).toMatchObject({ group: 'm[1]' });
  });

  it('classifies other log lines and lines without a time or status', () => {
    expect(readAuditLine('{"level":"warn","time":1,"msg":"provider secret unavailable"}', 'principal')).toBe('other');
    expect(readAuditLine('{"audit":true,"status":200}', 'principal')).toBe('malformed');
    expect(readAuditLine('{"audit":true,"time":"yesterday","status":200}', 'principal')).toBe('malformed');
    expect(readAuditLine('[1,2]', 'principal')).toBe('malformed');
    expect(readAuditLine('Error: boom', 'principal')).toBe('malformed');
  });
});
