// Caller-controlled strings are bounded in the audit line: a caller cannot make the gateway write
// megabytes of log per request (docs/runtime.md, Audit log).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld({ tree: { oidcIssuer: 'https://issuer.invalid' }, gateway: { bodyLimit: 4 * 1024 * 1024 } });
});
afterAll(async () => {
  await world?.close();
});

const auditLines = (): string[] => world.gateway.logs.lines.filter((line) => line.includes('"audit":true'));

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('when the model string is 3 MB', () => {
  it('writes an audit line under 2 KB, with the model cut and marked', async () => {
    const before = auditLines().length;
    const model = `local/${'m'.repeat(3 * 1024 * 1024)}`;
    const res = await fetch(`${world.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.keys.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [] }),
    });
    expect(res.status).toBe(404);
    await res.text();
    const line = auditLines()[before] as string;
    expect(line.length).toBeLessThan(2048);
    expect((JSON.parse(line) as { model: string }).model).toMatch(/^local\/m+…\[truncated \d+\]$/);
  });
});

describe('when a token names an unknown issuer with a long iss', () => {
  it("never records the claimed issuer as the token's issuer, and the line stays under 2 KB", async () => {
    const before = auditLines().length;
    const token = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: `https://${'i'.repeat(10_000)}.example`, sub: 'x' })}.c2ln`;
    const res = await fetch(`${world.gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
    expect(res.status).toBe(401);
    await res.text();
    const line = auditLines()[before] as string;
    expect(line.length).toBeLessThan(2048);
    expect(JSON.parse(line)).toMatchObject({ auth_failure: 'oidc_unknown_issuer' });
    expect(JSON.parse(line)).not.toHaveProperty('issuer');
    expect(line).not.toContain('iiiiiiii');
  });
});
