// Authentication by API key: every bad credential gets the same 401 body (no oracle); the log
// holds the real reason and the key id, never the key; keys in query strings are refused.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintApiKey } from '../../schemas/formats/api-key.ts';
import { leakedSecrets } from '../support/logs.ts';
import { createWorld, type World } from '../support/world.ts';

let world: World;
beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});

const call = (headers: Record<string, string>, path = '/v1/chat/completions'): Promise<Response> =>
  fetch(`${world.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [] }),
  });
// A well-formed key (valid CRC) carrying another key's id but a different secret.
const keyWithSameId = (key: string): string => {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const id = [...(key.split('_')[1] as string)].reduce((n, c) => n * 62n + BigInt(alphabet.indexOf(c)), 0n);
  const forged = mintApiKey((size) => (size === 9 ? Buffer.from(id.toString(16).padStart(18, '0'), 'hex') : randomBytes(size))).key;
  expect(forged.split('_')[1]).toBe(key.split('_')[1]);
  return forged;
};
const lastAudit = (): Record<string, unknown> => world.gateway.logs.entries('request').at(-1)!;
const flipLastSecretChar = (key: string): string => {
  // Same id, same CRC shape, different secret: recompute nothing, so the CRC fails -> malformed.
  const parts = key.split('_');
  const secret = parts[2]!;
  parts[2] = secret.slice(0, -1) + (secret.endsWith('a') ? 'b' : 'a');
  return parts.join('_');
};

describe('when the credential is valid', () => {
  it('accepts Authorization: Bearer', async () => {
    expect((await call({ authorization: `Bearer ${world.keys.bob}` })).status).toBe(200);
    expect(lastAudit()).toMatchObject({ principal: 'bob', principal_id: 'u-2', credential_id: world.keys.bob.split('_')[1], decision: 'allow', status: 200 });
  });

  it('accepts x-api-key', async () => {
    expect((await call({ 'x-api-key': world.keys.bob })).status).toBe(200);
  });

  it('accepts a lower-case bearer scheme', async () => {
    expect((await call({ authorization: `bearer ${world.keys.bob}` })).status).toBe(200);
  });
});

describe('when the credential is bad in any way', () => {
  const cases: [string, () => Record<string, string>, string][] = [
    ['missing', () => ({}), 'missing'],
    ['malformed', () => ({ authorization: 'Bearer mg_nonsense' }), 'malformed'],
    ['a bad CRC', () => ({ authorization: `Bearer ${flipLastSecretChar(world.keys.bob)}` }), 'malformed'],
    ['unknown', () => ({ authorization: `Bearer ${mintApiKey().key}` }), 'unknown_key'],
    ['a known id with the wrong secret (valid CRC)', () => ({ authorization: `Bearer ${keyWithSameId(world.keys.bob)}` }), 'wrong_secret'],
    ['expired', () => ({ authorization: `Bearer ${world.keys.expired}` }), 'expired'],
    ['revoked', () => ({ authorization: `Bearer ${world.keys.revoked}` }), 'revoked'],
    ['a JWT (OIDC is not enabled yet)', () => ({ authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln' }), 'oidc_not_enabled'],
    ['a non-bearer scheme', () => ({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), 'malformed'],
  ];
  const bodies = new Set<string>();

  for (const [name, headers, reason] of cases) {
    it(`answers ${name} with 401 MG_UNAUTHENTICATED and logs the reason "${reason}"`, async () => {
      const res = await call(headers());
      expect(res.status).toBe(401);
      const body = await res.text();
      bodies.add(body);
      expect(JSON.parse(body)).toEqual({
        error: { message: 'missing or invalid credential', type: 'authentication_error', param: null, code: 'MG_UNAUTHENTICATED' },
      });
      expect(lastAudit()).toMatchObject({ status: 401, code: 'MG_UNAUTHENTICATED', auth_failure: reason });
    });
  }

  it('gave every one of them the byte-identical body', () => {
    expect(bodies.size).toBe(1);
  });

  it('logs the key id of a wrong key but never the key', () => {
    const lines = world.gateway.logs.lines.filter((l) => l.includes('"auth_failure":"revoked"'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string).credential_id).toBe(world.keys.revoked.split('_')[1]);
    // Neither the key nor its secret part, anywhere in the line.
    expect(lines[0]).not.toContain(world.keys.revoked);
    expect(lines[0]).not.toContain(world.keys.revoked.split('_')[2]);
  });
});

describe('when the key is in the query string', () => {
  for (const query of ['api_key=KEY', 'key=KEY', 'access_token=KEY', 'x=KEY', 'q=Bearer+KEY', 'q=Bearer%20KEY', 'x=a,KEY', 'x=a%2CKEY', 'x=[KEY]']) {
    it(`refuses ?${query.replace('KEY', '<key>')} with 400 MG_CREDENTIAL_IN_QUERY, even with a valid header`, async () => {
      const res = await call({ authorization: `Bearer ${world.keys.bob}` }, `/v1/chat/completions?${query.replace('KEY', world.keys.bob)}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MG_CREDENTIAL_IN_QUERY');
    });
  }
});

describe('when the suite is over', () => {
  it('never wrote a key into any log line', () => {
    expect(leakedSecrets(world.gateway.logs.lines, [...world.secrets(), 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln'])).toEqual([]);
  });
});
