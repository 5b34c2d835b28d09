// The audit line is built as text: it must parse to exactly what pino wrote for the same record.
import { describe, expect, it } from 'vitest';
import { auditFields, jsonString } from '../../runtime/audit/audit-line.ts';
import { auditLineFormatter } from '../../runtime/audit/audit-log.ts';
import { newRecord } from '../../runtime/audit/record.ts';
import { auditLineErrors } from '../support/audit-schema.ts';

describe('when a string needs escaping', () => {
  it('writes what JSON.stringify writes, for quotes, backslashes, controls and lone surrogates', () => {
    for (const s of ['plain', '', 'a"b', 'a\\b', 'line\nbreak', '\u0000\u001f', 'emoji \ud83d\ude00', 'lone \ud800', 'é ü 中文', '</script>']) {
      expect(jsonString(s)).toBe(JSON.stringify(s));
    }
  });
});

describe('when a record is complete', () => {
  it('parses to the documented fields, in order, with absent ones left out', () => {
    const record = newRecord('req-1', 'POST', '/v1/chat/completions');
    Object.assign(record, {
      clientIp: '203.0.113.9',
      userAgent: 'OpenAI/JS 6.0',
      bundleSerial: 7,
      revision: '0123456789abcdef0123456789abcdef01234567',
      stream: true,
      ruleId: 'chat-for-alice',
      via: 'ml-platform',
      ttftMs: 2.34567,
      principal: 'alice "the admin"',
      principalId: 'u-1',
      credentialId: 'abc',
      model: 'local/gpt\n4o',
      account: 'local',
      decision: 'allow',
      rule: 'authz/a.yaml:2:5',
      status: 200,
      outcome: 'ok',
      upstreamMs: 1.23456,
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
    const line = JSON.parse(`{${auditFields(record, 4.56789).slice(1)}}`) as Record<string, unknown>;
    expect(Object.keys(line)).toEqual([
      'audit',
      'request_id',
      'method',
      'route',
      'client_ip',
      'user_agent',
      'principal',
      'principal_id',
      'credential_id',
      'model',
      'account',
      'stream',
      'decision',
      'rule',
      'rule_id',
      'via',
      'status',
      'outcome',
      'latency_ms',
      'ttft_ms',
      'upstream_latency_ms',
      'usage',
      'bundle_serial',
      'revision',
    ]);
    expect(line).toMatchObject({
      principal: 'alice "the admin"',
      model: 'local/gpt\n4o',
      latency_ms: 4.568,
      upstream_latency_ms: 1.235,
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      bundle_serial: 7,
      revision: '0123456789abcdef0123456789abcdef01234567',
      stream: true,
      rule_id: 'chat-for-alice',
      via: 'ml-platform',
      ttft_ms: 2.346,
    });
    // The whole line, with its fixed parts, is what the JSON Schema describes.
    const whole = auditLineFormatter()(auditFields(record, 4.56789)).trimEnd();
    expect(auditLineErrors(whole)).toEqual([]);
    // And the schema is not a pass-everything: a field it does not know, or a wrong type, fails.
    expect(auditLineErrors(whole.replace('"stream":true', '"stream":"yes"'))).not.toEqual([]);
    expect(auditLineErrors(whole.replace('"audit":true', '"audit":true,"prompt":"hi"'))).not.toEqual([]);
  });

  it('writes null for a number JSON cannot hold', () => {
    const record = newRecord('req-2', 'GET', 'not_found');
    record.usage = { prompt_tokens: Infinity, completion_tokens: 0, total_tokens: NaN };
    const line = JSON.parse(`{${auditFields(record, 1).slice(1)}}`) as { usage: unknown; issuer?: unknown };
    expect(line.usage).toEqual({ prompt_tokens: null, completion_tokens: 0, total_tokens: null });
    expect('issuer' in line).toBe(false);
  });
});
