// The activation gate (checkActivation in runtime/bundle/activate.ts), in process: audience, the
// serial floor against rollback and serial reuse, expiry, in that order; then compileActiveBundle,
// which turns a verified payload into what the request path reads.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActivationGate, checkActivation, compileActiveBundle, type SerialFloor } from '../../runtime/bundle/activate.ts';
import { BundleError, type BundleErrorCode } from '../../schemas/bundle/bundle-error.ts';
import type { VerifiedBundle } from '../../schemas/bundle/verify.ts';
import { sha256Hex } from '../../schemas/formats/api-key.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { AUDIENCE, compilePayload, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');

const bundle = (serial: number, digest: string, overrides: Partial<BundlePayload> = {}): VerifiedBundle => ({
  payload: { audience: 'gw', serial, expires_at: '2026-12-02T00:00:00Z', providers: [], ...overrides } as unknown as BundlePayload,
  digest,
  keyid: 'k',
});
const gate = (overrides: Partial<ActivationGate> = {}): ActivationGate => ({
  audience: 'gw',
  active: null,
  floor: null,
  nowMs: NOW,
  acceptExpired: false,
  ...overrides,
});
const at = (serial: number, digest: string): SerialFloor => ({ serial, digest });

function refusal(run: () => unknown): { code: BundleErrorCode; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BundleError);
    return { code: (error as BundleError).code, message: (error as BundleError).message };
  }
  throw new Error('expected a BundleError, nothing was thrown');
}

describe('when nothing was activated before', () => {
  it('activates a bundle for this audience', () => {
    expect(checkActivation(bundle(1, 'a'), gate())).toBe('activate');
  });
});

describe('when the bundle is for another audience', () => {
  it('refuses MG_BUNDLE_AUDIENCE, naming both, before any serial check', () => {
    expect(refusal(() => checkActivation(bundle(1, 'a', { audience: 'other' }), gate({ floor: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_AUDIENCE',
      message: 'the bundle is for audience "other", this gateway serves "gw"',
    });
  });
});

describe('when the bundle serial is older', () => {
  it('refuses MG_BUNDLE_ROLLBACK against the active bundle and against the floor, whichever is higher', () => {
    expect(refusal(() => checkActivation(bundle(4, 'a'), gate({ active: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_ROLLBACK',
      message: 'bundle serial 4 is older than serial 5 already activated',
    });
    expect(refusal(() => checkActivation(bundle(4, 'a'), gate({ floor: at(5, 'x') }))).code).toBe('MG_BUNDLE_ROLLBACK');
    expect(refusal(() => checkActivation(bundle(6, 'a'), gate({ active: at(3, 'x'), floor: at(7, 'y') }))).message).toBe(
      'bundle serial 6 is older than serial 7 already activated',
    );
    expect(refusal(() => checkActivation(bundle(6, 'a'), gate({ active: at(7, 'y'), floor: at(3, 'x') }))).message).toBe(
      'bundle serial 6 is older than serial 7 already activated',
    );
  });

  it('activates a newer serial', () => {
    expect(checkActivation(bundle(6, 'a'), gate({ active: at(5, 'x'), floor: at(5, 'x') }))).toBe('activate');
    expect(checkActivation(bundle(8, 'a'), gate({ active: at(3, 'x'), floor: at(7, 'y') }))).toBe('activate');
  });
});

describe('when the bundle has the serial already activated', () => {
  it('answers unchanged for the active bundle seen again', () => {
    expect(checkActivation(bundle(5, 'x'), gate({ active: at(5, 'x'), floor: at(5, 'x') }))).toBe('unchanged');
    expect(checkActivation(bundle(5, 'x'), gate({ active: at(5, 'x') }))).toBe('unchanged');
  });

  it('refuses MG_BUNDLE_SERIAL_CONFLICT for other content under that serial', () => {
    expect(refusal(() => checkActivation(bundle(5, 'y'), gate({ active: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_SERIAL_CONFLICT',
      message: 'bundle serial 5 was already activated with different content: two different bundles carry one serial',
    });
    expect(refusal(() => checkActivation(bundle(5, 'y'), gate({ active: at(4, 'w'), floor: at(5, 'x') }))).code).toBe('MG_BUNDLE_SERIAL_CONFLICT');
  });

  it('activates the floor bundle again when nothing is active (a restart), and when another is', () => {
    expect(checkActivation(bundle(5, 'x'), gate({ floor: at(5, 'x') }))).toBe('activate');
    expect(checkActivation(bundle(5, 'x'), gate({ active: at(4, 'w'), floor: at(5, 'x') }))).toBe('activate');
  });
});

describe('when the bundle has expired', () => {
  it('refuses MG_BUNDLE_EXPIRED from expires_at on, unless expired bundles are accepted', () => {
    const expiresAt = { expires_at: '2026-12-01T00:00:00Z' };
    expect(checkActivation(bundle(1, 'a', expiresAt), gate({ nowMs: NOW - 1 }))).toBe('activate');
    expect(refusal(() => checkActivation(bundle(1, 'a', expiresAt), gate()))).toEqual({
      code: 'MG_BUNDLE_EXPIRED',
      message: 'the bundle expired at 2026-12-01T00:00:00Z',
    });
    expect(checkActivation(bundle(1, 'a', expiresAt), gate({ acceptExpired: true }))).toBe('activate');
  });

  it('answers unchanged for the active bundle seen again, even expired', () => {
    expect(checkActivation(bundle(5, 'x', { expires_at: '2026-11-01T00:00:00Z' }), gate({ active: at(5, 'x') }))).toBe('unchanged');
  });

  it('refuses rollback before expiry', () => {
    expect(refusal(() => checkActivation(bundle(4, 'a', { expires_at: '2026-11-01T00:00:00Z' }), gate({ active: at(5, 'x'), acceptExpired: true }))).code).toBe(
      'MG_BUNDLE_ROLLBACK',
    );
  });
});

describe('when the bundle was created later than the clock allows', () => {
  const createdAt = (ms: number) => ({ created_at: new Date(ms).toISOString() });

  it('refuses MG_BUNDLE_CREATED_IN_FUTURE past five minutes of skew, before the serial is trusted', () => {
    // A serial far above the floor: it must not matter, a future-dated bundle would raise the floor.
    expect(refusal(() => checkActivation(bundle(99, 'a', createdAt(NOW + 5 * 60_000 + 1)), gate({ active: at(5, 'x') })))).toEqual({
      code: 'MG_BUNDLE_CREATED_IN_FUTURE',
      message: `the bundle was created at ${new Date(NOW + 5 * 60_000 + 1).toISOString()}, later than this gateway's clock allows (5 min of skew)`,
    });
    // Before the rollback check too: an older serial from the future is refused for its date.
    expect(refusal(() => checkActivation(bundle(1, 'a', createdAt(NOW + 3_600_000)), gate({ floor: at(5, 'x') }))).code).toBe('MG_BUNDLE_CREATED_IN_FUTURE');
  });

  it('activates a bundle created up to five minutes ahead of the clock', () => {
    expect(checkActivation(bundle(6, 'a', createdAt(NOW + 5 * 60_000)), gate({ active: at(5, 'x') }))).toBe('activate');
  });
});

describe('when the operator limits secret references and upstream hosts', () => {
  const openai = { name: 'openai', type: 'openai', base_url: 'https://evil.example/v1', secret: 'env://AWS_SECRET_ACCESS_KEY' };

  it('refuses a bundle outside the allow-list, and only after the serial check', () => {
    const allow = { secretRefPrefixes: ['env://OPENAI_'], upstreamHosts: null };
    expect(refusal(() => checkActivation(bundle(6, 'a', { providers: [openai] } as Partial<BundlePayload>), gate({ allow }))).code).toBe(
      'MG_BUNDLE_SECRET_REF_NOT_ALLOWED',
    );
    expect(refusal(() => checkActivation(bundle(4, 'a', { providers: [openai] } as Partial<BundlePayload>), gate({ allow, active: at(5, 'x') }))).code).toBe(
      'MG_BUNDLE_ROLLBACK',
    );
  });

  it('allows anything when no allow-list is given', () => {
    expect(checkActivation(bundle(6, 'a', { providers: [openai] } as Partial<BundlePayload>), gate())).toBe('activate');
  });
});

describe('when a verified bundle is compiled for the request path', () => {
  let dir: string;
  let payload: BundlePayload;
  let keys: TestKeys;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-compile-active-'));
    keys = mintTestKeys();
    await writePolicyTree(dir, keys, {
      upstreamUrl: 'http://127.0.0.1:9',
      azureKeyFile: join(dir, 'none'),
      openaiKeyVar: 'MG_NONE',
      oidcIssuer: 'https://idp.test',
      teams: '  - {name: ml, members: [carol]}\n',
      extraRules: '  - models: [azure/gpt-4o]\n    teams: [ml]\n',
    });
    payload = await compilePayload(dir, 3, new Date('2026-11-30T00:00:00Z'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('carries the bundle identity, its times and every key with its digest, owner, expiry and revocation', () => {
    const active = compileActiveBundle({ payload, digest: 'd1', keyid: 'k' }, { dispatcher: {} as Dispatcher }, NOW);
    expect(active).toMatchObject({ serial: 3, revision: 'rev-3', digest: 'd1', audience: AUDIENCE, activatedAtMs: NOW });
    expect(active.createdAtMs).toBe(Date.parse('2026-11-30T00:00:00Z'));
    expect(active.expiresAtMs).toBe(Date.parse(payload.expires_at));
    expect(active.keys.size).toBe(payload.keys.length);
    const principalOf = (name: string) => payload.principals.findIndex((p) => p.name === name);
    const keyOf = (key: string) => active.keys.get(key.split('_')[1] as string)!;
    expect(keyOf(keys.alice)).toEqual({
      digest: Buffer.from(sha256Hex(keys.alice), 'hex'),
      principal: principalOf('alice'),
      expiresMs: Infinity,
      revoked: false,
    });
    expect(keyOf(keys.revoked)).toMatchObject({ principal: principalOf('alice'), revoked: true });
    const expired = payload.keys.find((k) => k.expires !== undefined)!;
    expect(active.keys.get(expired.id)).toMatchObject({ principal: principalOf('bob'), expiresMs: Date.parse(expired.expires!), revoked: false });
  });

  it('labels principals, routes each model to its account, and indexes grants and OIDC principals', () => {
    const active = compileActiveBundle({ payload, digest: 'd1', keyid: 'k' }, { dispatcher: {} as Dispatcher }, NOW);
    expect([...active.principals].map((p) => `${p.id} ${p.kind} ${p.name} ${p.label}`)).toEqual(
      payload.principals.map((p) => `${p.id} ${p.kind} ${p.name} ${p.kind === 'service' ? `service:${p.name}` : p.name}`),
    );
    expect([...active.principals].find((p) => p.kind === 'service')!.label).toBe('service:llmapp1');
    expect(active.routes.map((r) => `${r.fqn} ${r.account}`)).toEqual(payload.models.map((m) => `${m.fqn} ${m.fqn.split('/')[0]}`));
    expect(active.providers.map((p) => p.name)).toEqual(payload.providers.map((p) => p.name));
    for (const route of active.routes) expect(active.providers).toContain(route.provider);
    const alice = payload.principals.findIndex((p) => p.name === 'alice');
    expect(active.index.decide(alice, 'azure/gpt-4o', NOW)).toMatchObject({ allowed: true });
    expect(active.oidc.issuers.map((i) => i.issuer)).toEqual(['https://idp.test']);
    expect(active.oidc.principals.services.get('llmapp1')).toBe(payload.principals.findIndex((p) => p.name === 'llmapp1'));
    // The team a grant came through (the audit line's via) is read from the bundle's team names.
    const carol = payload.principals.findIndex((p) => p.name === 'carol');
    const granted = active.index.decide(carol, 'azure/gpt-4o', NOW);
    expect(granted).toMatchObject({ allowed: true });
    expect(active.index.via(carol, (granted as { rule: number }).rule)).toBe('ml');
  });

  it('indexes limits by principal, and gives a key the limits that name it, from the flat tables', () => {
    const edited = structuredClone(payload);
    edited.limits = ['l-1', 'l-2'].map((id) => ({ id, source: 'limits/l.yaml:2:5', per: 'each' as const, models: [0], requests_per_minute: 10 }));
    edited.limit_classes = [[1]];
    const alice = edited.principals.findIndex((p) => p.name === 'alice');
    edited.principals[alice]!.limit_class = 0;
    edited.keys[0]!.limits = [0];
    const active = compileActiveBundle({ payload: edited, digest: 'd1', keyid: 'k' }, { dispatcher: {} as Dispatcher }, NOW);
    expect(active.limits?.limits.map((l) => l.id)).toEqual(['l-1', 'l-2']);
    expect(active.limits?.byPrincipal(alice)).toEqual([1]);
    expect(active.keys.get(edited.keys[0]!.id)?.limits).toEqual([0]);
    expect(compileActiveBundle({ payload, digest: 'd1', keyid: 'k' }, { dispatcher: {} as Dispatcher }, NOW).limits).toBeNull();
  });
});
