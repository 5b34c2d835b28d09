// The activation worker (runtime/bundle/activation-worker.ts, started by off-thread.ts) against the
// in-process path it replaces, on real signed bundles: every refusal comes back with the code and
// message verifyBundle and the gate give in process, a bundle the worker cannot process is refused
// as the lifecycle refuses any unexpected error, and an accepted bundle decides exactly as the
// in-process compilation of the same payload.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeEnvelope, signBundle } from '../../compiler/bundle/sign.ts';
import { type ActiveBundle, compileActiveBundle } from '../../runtime/bundle/activate.ts';
import { downloadBundle } from '../../runtime/bundle/download.ts';
import { type ActivationGate, checkActivation } from '../../runtime/bundle/gate.ts';
import { activateInWorker, workerActivation, workerFetchActivation } from '../../runtime/bundle/off-thread.ts';
import { type BundleEvents, createBundleLifecycle } from '../../runtime/bundle/poll.ts';
import { BundleError } from '../../schemas/bundle/bundle-error.ts';
import { trustKeys, verifyBundle } from '../../schemas/bundle/verify.ts';
import { AUDIENCE, buildBundle, mintTestKeys, type TestKeys, writePolicyTree } from '../support/policies.ts';

const signer = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const trusted = trustKeys([signer.publicKey]);
const ctx = { dispatcher: {} as Dispatcher };
const NOW = Date.now();
let dir: string;
let keys: TestKeys;
let good: Buffer;

const gate = (over: Partial<ActivationGate> = {}): ActivationGate => ({
  audience: AUDIENCE,
  active: null,
  floor: null,
  nowMs: NOW,
  acceptExpired: false,
  allow: { secretRefPrefixes: null, upstreamHosts: null },
  ...over,
});

/** The in-process outcome: 'unchanged', 'activate', or the refusal's code and message. */
function inProcess(bytes: Buffer, g: ActivationGate): string {
  try {
    return checkActivation(verifyBundle(bytes, trusted), g);
  } catch (error) {
    if (error instanceof BundleError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

async function inWorker(bytes: Buffer, g: ActivationGate): Promise<string> {
  try {
    const { next } = await workerActivation(trusted, ctx)(bytes, g);
    return next === 'unchanged' ? next : 'activate';
  } catch (error) {
    if (error instanceof BundleError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe('the activation worker', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mg-activation-worker-'));
    keys = mintTestKeys();
    await writePolicyTree(join(dir, 'p'), keys, {
      upstreamUrl: 'http://127.0.0.1:9',
      azureKeyFile: join(dir, 'none'),
      openaiKeyVar: 'MG_NONE',
      oidcIssuer: 'https://idp.test',
      teams: '  - {name: platform, members: [bob, carol]}\n',
      extraRules: '  - models: ["local/*"]\n    teams: [platform]\n    users: [alice]\n',
    });
    good = await buildBundle(join(dir, 'p'), 5, signer.privateKey);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('when a bundle is refused in the worker', () => {
    const cases: [string, () => Promise<Buffer> | Buffer, Partial<ActivationGate>, string][] = [
      ['not JSON', () => Buffer.from('{"payloadType":'), {}, 'MG_BUNDLE_MALFORMED'],
      ['signed by an untrusted key', () => buildBundle(join(dir, 'p'), 5, stranger.privateKey), {}, 'MG_BUNDLE_BAD_SIGNATURE'],
      [
        'with a payload that breaks the schema',
        () =>
          buildBundle(join(dir, 'p'), 5, signer.privateKey, (p) => {
            (p as { serial: unknown }).serial = 'five';
          }),
        {},
        'MG_BUNDLE_SCHEMA',
      ],
      [
        'with a principal that breaks the schema (the payload scan leaves it to the schema)',
        () =>
          buildBundle(join(dir, 'p'), 5, signer.privateKey, (p) => {
            (p.principals.at(-1) as { kind: string }).kind = 'robot';
          }),
        {},
        'MG_BUNDLE_SCHEMA',
      ],
      [
        'for another audience',
        () =>
          buildBundle(join(dir, 'p'), 5, signer.privateKey, (p) => {
            p.audience = 'other';
          }),
        {},
        'MG_BUNDLE_AUDIENCE',
      ],
      ['older than the serial floor', () => good, { floor: { serial: 6, digest: 'f'.repeat(64) } }, 'MG_BUNDLE_ROLLBACK'],
      ['reusing the active serial with other content', () => good, { active: { serial: 5, digest: 'e'.repeat(64) } }, 'MG_BUNDLE_SERIAL_CONFLICT'],
      ['past its expiry', () => good, { nowMs: NOW + 30 * 86_400_000 }, 'MG_BUNDLE_EXPIRED'],
      ['created in the future', () => good, { nowMs: NOW - 86_400_000 }, 'MG_BUNDLE_CREATED_IN_FUTURE'],
      [
        'outside --allow-upstream-host',
        () => good,
        { allow: { secretRefPrefixes: null, upstreamHosts: ['api.openai.com'] } },
        'MG_BUNDLE_UPSTREAM_NOT_ALLOWED',
      ],
    ];
    for (const [what, bytesOf, over, code] of cases) {
      it(`refuses a bundle ${what} with ${code}, the code and message of the in-process path`, async () => {
        const bytes = await bytesOf();
        const expected = inProcess(bytes, gate(over));
        expect(expected.startsWith(`${code}: `)).toBe(true);
        expect(await inWorker(bytes, gate(over))).toBe(expected);
      });
    }

    it('answers unchanged for the active bundle seen again, as in process', async () => {
      const digest = verifyBundle(good, trusted).digest;
      const g = gate({ active: { serial: 5, digest } });
      expect(inProcess(good, g)).toBe('unchanged');
      expect(await inWorker(good, g)).toBe('unchanged');
    });
  });

  describe('when the worker fails on something that is not a refusal', () => {
    it('answers failed without detail, and the lifecycle refuses the bundle MG_BUNDLE_MALFORMED as for any unexpected error', async () => {
      // An allow-list the gate cannot read (no list of prefixes): a TypeError inside the worker.
      const broken = gate({ allow: { secretRefPrefixes: 5, upstreamHosts: null } as unknown as ActivationGate['allow'] });
      expect((await activateInWorker({ bytes: good, trusted, gate: broken })).reply).toEqual({ kind: 'failed' });

      const rejected: string[] = [];
      const life = createBundleLifecycle({
        source: { kind: 'file', path: join(dir, 'none.json') },
        trusted,
        audience: AUDIENCE,
        maxBytes: 1024 * 1024,
        fetchTimeoutMs: 1000,
        pollMs: 60_000,
        jitter: 0,
        cacheDir: null,
        expiryPolicy: 'fail-closed',
        activate: (bytes, g) => workerActivation(trusted, ctx)(bytes, { ...g, allow: broken.allow }),
        events: { activated: () => {}, rejected: (e, origin) => rejected.push(`${origin} ${e.code} ${e.message}`), expired: () => {}, cacheFailed: () => {} },
      });
      await writeFile(join(dir, 'none.json'), good);
      expect(await life.refresh()).toBe('rejected');
      expect(life.current).toBeNull();
      expect(rejected).toEqual(['source MG_BUNDLE_MALFORMED the bundle could not be processed']);
    });
  });

  describe('when the worker accepts a bundle', () => {
    let fromWorker: ActiveBundle;
    let inProc: ActiveBundle;
    beforeAll(async () => {
      const { next } = await workerActivation(trusted, ctx)(Buffer.from(good), gate());
      if (next === 'unchanged') throw new Error('expected a new bundle');
      fromWorker = next;
      inProc = compileActiveBundle(verifyBundle(good, trusted), ctx, NOW);
    });

    it('carries the identity, the small payload parts and every principal as the in-process compilation', () => {
      const { payload } = verifyBundle(good, trusted);
      expect(fromWorker).toMatchObject({ serial: 5, revision: 'rev-5', digest: inProc.digest, audience: AUDIENCE, activatedAtMs: NOW });
      expect(fromWorker.payload).toEqual(inProc.payload);
      expect(fromWorker.payload.models).toEqual(payload.models);
      expect(fromWorker.payload).not.toHaveProperty('principals');
      expect([...fromWorker.principals]).toEqual([...inProc.principals]);
      expect([...fromWorker.principals].map((p) => p.label)).toEqual(payload.principals.map((p) => (p.kind === 'service' ? `service:${p.name}` : p.name)));
      expect(fromWorker.principals.at(payload.principals.length)).toBeUndefined();
    });

    it('finds every key by id with its digest, owner, expiry and revocation, and no other id', () => {
      const { payload } = verifyBundle(good, trusted);
      expect(fromWorker.keys.size).toBe(payload.keys.length);
      for (const key of payload.keys) {
        expect(fromWorker.keys.get(key.id)).toEqual({
          digest: Buffer.from(key.sha256, 'hex'),
          principal: key.principal,
          expiresMs: key.expires === undefined ? Infinity : Date.parse(key.expires),
          revoked: key.revoked === true,
        });
      }
      expect(fromWorker.keys.get(`${keys.alice.split('_')[1]}x`)).toBeUndefined();
      expect(fromWorker.keys.get('')).toBeUndefined();
    });

    it('decides every principal x model, lists models and names the team a grant came through, as in process', () => {
      const { payload } = verifyBundle(good, trusted);
      let allowed = 0;
      for (let p = 0; p < payload.principals.length; p++) {
        expect(fromWorker.index.allowedModels(p, NOW)).toEqual(inProc.index.allowedModels(p, NOW));
        for (const model of [...payload.models.map((m) => m.fqn), 'local/nope']) {
          const decision = fromWorker.index.decide(p, model, NOW);
          expect(decision).toEqual(inProc.index.decide(p, model, NOW));
          if (decision.allowed) {
            allowed++;
            expect(fromWorker.index.via(p, decision.rule)).toBe(inProc.index.via(p, decision.rule));
          }
        }
      }
      expect(allowed).toBeGreaterThan(10);
      const bob = payload.principals.findIndex((p) => p.name === 'bob');
      const viaTeam = fromWorker.index.decide(bob, 'local/gpt-4o-mini', NOW);
      expect(viaTeam).toMatchObject({ allowed: true });
      expect(viaTeam.allowed && fromWorker.index.via(bob, viaTeam.rule)).toBe('platform');
    });

    it('reads a payload no compiler writes (indented) through JSON.parse, into the same tables', async () => {
      const { payload } = verifyBundle(good, trusted);
      const indented = serializeEnvelope(signBundle(Buffer.from(JSON.stringify(payload, null, 2)), signer.privateKey));
      const { next } = await workerActivation(trusted, ctx)(indented, gate());
      if (next === 'unchanged') throw new Error('expected a new bundle');
      expect([...next.principals]).toEqual([...fromWorker.principals]);
      for (const key of payload.keys) expect(next.keys.get(key.id)).toEqual(fromWorker.keys.get(key.id));
      for (let p = 0; p < payload.principals.length; p++) expect(next.index.allowedModels(p, NOW)).toEqual(fromWorker.index.allowedModels(p, NOW));
      expect(next.oidc.principals.subjects.get('alice')).toBe(fromWorker.oidc.principals.subjects.get('alice'));
    });

    it('finds OIDC principals by subject and client id, as in process', () => {
      const { payload } = verifyBundle(good, trusted);
      expect(fromWorker.oidc.issuers).toEqual(payload.oidc.issuers);
      expect(fromWorker.oidc.principals.services.get('llmapp1')).toBe(payload.principals.findIndex((p) => p.name === 'llmapp1'));
      expect(fromWorker.oidc.principals.users.get('alice')).toBe(payload.principals.findIndex((p) => p.name === 'alice'));
      expect(fromWorker.oidc.principals.subjects.get('alice')).toBe(inProc.oidc.principals.subjects.get('alice'));
      expect(fromWorker.oidc.principals.users.get('nobody')).toBeUndefined();
    });
  });

  describe('when the payload carries limits (optional parts of the bundle)', () => {
    it('keeps a principal limit class and a key limit list in the flat tables, and limits and limit_classes as plain data', () => {
      const { payload, digest } = verifyBundle(good, trusted);
      const edited = structuredClone(payload);
      edited.limits = ['l-1', 'l-2', 'l-3'].map((id, i) => ({
        id,
        source: `limits/l.yaml:${2 + 3 * i}:5`,
        per: 'each' as const,
        models: [0],
        requests_per_minute: 10,
      }));
      edited.limit_classes = [[0], [1, 2]];
      (edited.principals[1] as { limit_class?: number }).limit_class = 1;
      (edited.keys[0] as { limits?: number[] }).limits = [0, 2];
      const active = compileActiveBundle({ payload: edited, digest, keyid: 'k' }, ctx, NOW);
      expect(active.principals.at(1)?.limitClass).toBe(1);
      expect(active.principals.at(0)).not.toHaveProperty('limitClass');
      expect(active.keys.get(edited.keys[0]!.id)?.limits).toEqual([0, 2]);
      expect(active.keys.get(edited.keys[1]!.id)).not.toHaveProperty('limits');
      expect(active.payload).toMatchObject({ limits: edited.limits, limit_classes: edited.limit_classes });
      // The limit index reads the same classes from the tables (a key's limits come with the key, above).
      expect(active.limits?.byPrincipal(1)).toEqual([1, 2]);
      expect(active.limits?.byPrincipal(0)).toBeUndefined();
    });
  });
  describe('when the worker downloads the bundle too (fetchActivate: polls and SIGHUP)', () => {
    let host: Server;
    let url: string;
    /** What the host answers: the envelope with its ETag, an HTTP status, or a body with no length. */
    let answer: { body: Buffer; etag: string } | { status: number } | { endless: number } = { body: Buffer.alloc(0), etag: '""' };
    let requests: (string | undefined)[] = [];
    beforeAll(async () => {
      host = createServer((req, res) => {
        requests.push(req.headers['if-none-match']);
        if ('status' in answer) return void res.writeHead(answer.status).end('no');
        if ('endless' in answer) {
          // Chunked, no content-length: the cap can only be enforced while reading.
          res.writeHead(200);
          for (let i = 0; i < answer.endless; i++) res.write(Buffer.alloc(64 * 1024, 0x20));
          return void res.end();
        }
        if (req.headers['if-none-match'] === answer.etag) return void res.writeHead(304, { etag: answer.etag }).end();
        res.writeHead(200, { etag: answer.etag, 'content-length': answer.body.length }).end(answer.body);
      });
      await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(host.address() as AddressInfo).port}/bundle.json`;
    });
    afterAll(() => {
      host.closeAllConnections();
      host.close();
    });

    const fetchRequest = (etag: string | null, maxBytes = 4 * 1024 * 1024, stageIn: string | null = null) => ({
      source: { kind: 'http' as const, url },
      etag,
      maxBytes,
      timeoutMs: 5_000,
      stageIn,
    });

    /** The gateway's lifecycle against the host: activations (boot and polls) on the worker. */
    const workerLifecycle = (cacheDir: string, events: BundleEvents) =>
      createBundleLifecycle({
        source: { kind: 'http', url },
        trusted,
        audience: AUDIENCE,
        maxBytes: 4 * 1024 * 1024,
        fetchTimeoutMs: 5_000,
        pollMs: 60_000,
        jitter: 0,
        cacheDir,
        expiryPolicy: 'fail-closed',
        activate: workerActivation(trusted, ctx),
        fetchActivate: workerFetchActivation(trusted, ctx),
        events,
      });

    /** The in-process download's refusal (code: message), for the same host answer. */
    async function downloadedInProcess(etag: string | null, maxBytes?: number): Promise<string> {
      try {
        await downloadBundle({ kind: 'http', url }, { etag, maxBytes: maxBytes ?? 4 * 1024 * 1024, timeoutMs: 5_000 });
        return 'downloaded';
      } catch (error) {
        if (error instanceof BundleError) return `${error.code}: ${error.message}`;
        throw error;
      }
    }

    it('downloads and activates with the ETag, staging the envelope only when given a cache folder; with that ETag, answers not modified', async () => {
      answer = { body: good, etag: '"v5"' };
      const fetched = await workerFetchActivation(trusted, ctx)(fetchRequest(null), gate());
      if (!fetched.modified) throw new Error('expected a download');
      expect(fetched.etag).toBe('"v5"');
      expect(fetched.staged).toBeNull();
      if (fetched.next === 'unchanged') throw new Error('expected a new bundle');
      expect(fetched.next.serial).toBe(verifyBundle(good, trusted).payload.serial);
      // With a cache folder the envelope never comes back: it is in a staged file, whole.
      const cache = await mkdtemp(join(dir, 'stage-'));
      const withCache = await workerFetchActivation(trusted, ctx)(fetchRequest(null, undefined, cache), gate());
      if (!withCache.modified || withCache.staged === null || !('path' in withCache.staged)) throw new Error('expected a staged envelope');
      expect(withCache.staged.path.startsWith(join(cache, 'bundle.json.'))).toBe(true);
      expect(Buffer.compare(await readFile(withCache.staged.path), good)).toBe(0);
      expect(await readdir(cache)).toHaveLength(1);
      requests = [];
      expect(await workerFetchActivation(trusted, ctx)(fetchRequest('"v5"'), gate())).toEqual({ modified: false });
      expect(requests).toEqual(['"v5"']);
    });

    it('refuses a failed download with the code and message of the in-process download', async () => {
      answer = { status: 503 };
      const inProc = await downloadedInProcess(null);
      expect(inProc).toBe('MG_BUNDLE_FETCH_FAILED: the bundle host answered HTTP 503');
      await expect(workerFetchActivation(trusted, ctx)(fetchRequest(null), gate())).rejects.toMatchObject({
        code: 'MG_BUNDLE_FETCH_FAILED',
        message: 'the bundle host answered HTTP 503',
      });
    });

    it('stops reading a body over the cap, with the code and message of the in-process download', async () => {
      answer = { endless: 40 }; // 2.5 MB without a length, against a 1 MB cap
      const inProc = await downloadedInProcess(null, 1024 * 1024);
      expect(inProc).toBe('MG_BUNDLE_TOO_LARGE: the bundle is larger than the 1048576-byte cap');
      await expect(workerFetchActivation(trusted, ctx)(fetchRequest(null, 1024 * 1024), gate())).rejects.toMatchObject({
        code: 'MG_BUNDLE_TOO_LARGE',
        message: 'the bundle is larger than the 1048576-byte cap',
      });
    });

    it('activates a bundle whose envelope cannot be staged, and reports the cache failure', async () => {
      const notAFolder = join(dir, 'a-file');
      await writeFile(notAFolder, 'x');
      const failures: string[] = [];
      const life = workerLifecycle(join(notAFolder, 'cache'), {
        activated: () => {},
        rejected: () => {},
        expired: () => {},
        cacheFailed: (e) => failures.push((e as Error).message),
      });
      answer = { body: good, etag: '"v5"' };
      expect(await life.refresh()).toBe('activated');
      expect(life.current?.serial).toBe(verifyBundle(good, trusted).payload.serial);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toContain('ENOTDIR');
    });

    it('runs the lifecycle: activates, then not modified, and a refused bundle keeps the active one and its ETag unremembered', async () => {
      const rejected: string[] = [];
      const activated: number[] = [];
      const cacheDir = await mkdtemp(join(dir, 'life-cache-'));
      const life = workerLifecycle(cacheDir, {
        activated: (a) => activated.push(a.serial),
        rejected: (e, origin) => rejected.push(`${origin} ${e.code}`),
        expired: () => {},
        cacheFailed: () => {},
      });
      answer = { body: good, etag: '"v5"' };
      expect(await life.refresh()).toBe('activated');
      expect(await life.refresh()).toBe('not-modified');
      const serial = verifyBundle(good, trusted).payload.serial;
      expect(activated).toEqual([serial]);
      // The staged envelope took its name once the bundle was active, and the floor followed it.
      expect(Buffer.compare(await readFile(join(cacheDir, 'bundle.json')), good)).toBe(0);
      expect(JSON.parse(await readFile(join(cacheDir, 'serial-floor.json'), 'utf8'))).toMatchObject({ serial });
      expect((await readdir(cacheDir)).sort()).toEqual(['bundle.json', 'serial-floor.json']);
      // A bundle signed by a stranger, under a new ETag: refused; the active bundle stays.
      const strangers = await buildBundle(join(dir, 'p'), serial + 1, stranger.privateKey);
      answer = { body: strangers, etag: '"v6"' };
      requests = [];
      expect(await life.refresh()).toBe('rejected');
      expect(await life.refresh()).toBe('rejected');
      expect(rejected).toEqual(['source MG_BUNDLE_BAD_SIGNATURE', 'source MG_BUNDLE_BAD_SIGNATURE']);
      expect(life.current?.serial).toBe(serial);
      // The refused bundle's ETag was not remembered: each round asked with the active one's.
      expect(requests).toEqual(['"v5"', '"v5"']);
      expect(life.status.lastError?.code).toBe('MG_BUNDLE_BAD_SIGNATURE');
      // Nothing of the refused bundle reached the cache folder.
      expect((await readdir(cacheDir)).sort()).toEqual(['bundle.json', 'serial-floor.json']);
      expect(Buffer.compare(await readFile(join(cacheDir, 'bundle.json')), good)).toBe(0);
    });
  });
});
