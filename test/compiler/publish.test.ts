// `modelgate publish` end to end: the real CLI in child processes, real files, a GitHub stand-in
// spoken to by the real Octokit, and a local object-store stand-in for presigned PUTs.

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readPublishable } from '../../compiler/publish/envelope.ts';
import { PUBLISH_ERROR_CODES } from '../../compiler/publish/errors.ts';
import { fileDestination } from '../../compiler/publish/file.ts';
import { withFileLock } from '../../compiler/publish/file-lock.ts';
import { signingPair } from '../support/gateway.ts';
import { type GitHubApi, startGitHubApi } from '../support/github-api.ts';
import { addRelease, type GitHubReleaseState, gitHubReleaseState, githubReleaseRoutes, latestAsset } from '../support/github-release-routes.ts';
import { buildBundle, mintTestKeys, writePolicyTree } from '../support/policies.ts';
import { type CliResult, runCli } from '../support/run-cli.ts';

const signer = signingPair();
const other = signingPair();
let work: string;
let policies: string;
let publicKey: string;
let otherKey: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-publish-'));
  policies = join(work, 'policies');
  await writePolicyTree(policies, mintTestKeys(), { upstreamUrl: 'http://127.0.0.1:9', azureKeyFile: join(work, 'none'), openaiKeyVar: 'MG_PUBLISH_TEST_KEY' });
  publicKey = join(work, 'signing-key.pub.pem');
  otherKey = join(work, 'other.pub.pem');
  await writeFile(publicKey, signer.publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(otherKey, other.publicKey.export({ type: 'spki', format: 'pem' }));
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** Writes bundle `serial` (a variant changes the revision, hence the digest) and returns its path. */
async function bundle(serial: number, variant = ''): Promise<string> {
  const path = join(work, `in-${serial}${variant}.json`);
  await writeFile(path, await buildBundle(policies, serial, signer.privateKey, variant === '' ? undefined : (p) => void (p.revision = `rev-${variant}`)));
  return path;
}
const serialOf = (bytes: Buffer): number =>
  (JSON.parse(Buffer.from((JSON.parse(bytes.toString()) as { payload: string }).payload, 'base64').toString()) as { serial: number }).serial;
const publish = (file: string, to: string, ...rest: string[]): Promise<CliResult> => runCli(['publish', file, '--to', to, '--public-key', publicKey, ...rest]);
const json = (result: CliResult): Record<string, unknown> => JSON.parse(result.stdout) as Record<string, unknown>;
let dirs = 0;
const freshDir = (): string => join(work, `dest-${++dirs}`);

describe('publish to file://DIR', () => {
  it('writes bundle-<serial>.json and bundle.json with the exact bytes, and says where runtimes poll', async () => {
    const dir = freshDir();
    const file = await bundle(100);
    const result = await publish(file, `file://${dir}`, '--format', 'json');
    expect(result.code).toBe(0);
    expect(json(result)).toMatchObject({ ok: true, status: 'published', serial: 100, previous: null, poll_url: join(dir, 'bundle.json') });
    expect(await readFile(join(dir, 'bundle.json'))).toEqual(await readFile(file));
    expect(await readFile(join(dir, 'bundle-100.json'))).toEqual(await readFile(file));
    expect((await readdir(dir)).sort()).toEqual(['bundle-100.json', 'bundle.json']);
  });

  it('publishes what `modelgate compile` wrote, verified with the keygen public key', async () => {
    const keys = join(work, 'cli-keys');
    expect((await runCli(['keygen', '--out', keys])).code).toBe(0);
    const out = join(work, 'compiled.json');
    expect((await runCli(['compile', '--policies', policies, '--out', out, '--signing-key', join(keys, 'signing-key.pem')])).code).toBe(0);
    const dir = freshDir();
    const result = await runCli(['publish', out, '--to', `file://${dir}`, '--public-key', join(keys, 'signing-key.pub.pem')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^published serial \d+ \(revision .+, digest [0-9a-f]{12}\) to file:\/\//);
    expect(await readFile(join(dir, 'bundle.json'))).toEqual(await readFile(out));
  });

  it('keeps the newest --keep N bundle-<serial>.json files', async () => {
    const dir = freshDir();
    for (const serial of [201, 202, 203, 204]) expect((await publish(await bundle(serial), `file://${dir}`, '--keep', '2')).code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['bundle-203.json', 'bundle-204.json', 'bundle.json']);
    expect(serialOf(await readFile(join(dir, 'bundle.json')))).toBe(204);
  });

  describe('when the destination already holds the same serial and digest', () => {
    it('does nothing and exits 0 with a message', async () => {
      const dir = freshDir();
      const file = await bundle(300);
      expect((await publish(file, `file://${dir}`)).code).toBe(0);
      const again = await publish(file, `file://${dir}`);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('already holds serial 300 with the same digest');
    });
  });

  describe('when the serial is older, or the same with other content', () => {
    it('refuses with MG_PUBLISH_STALE_SERIAL (exit 1) and leaves bundle.json alone', async () => {
      const dir = freshDir();
      expect((await publish(await bundle(400), `file://${dir}`)).code).toBe(0);
      const older = await publish(await bundle(399), `file://${dir}`, '--format', 'json');
      expect(older.code).toBe(1);
      expect(json(older)).toMatchObject({ ok: false, code: 'MG_PUBLISH_STALE_SERIAL', current: { serial: 400 } });
      const conflict = await publish(await bundle(400, 'b'), `file://${dir}`);
      expect(conflict.code).toBe(1);
      expect(conflict.stderr).toMatch(/^MG_PUBLISH_STALE_SERIAL .*already holds serial 400 with different content/);
      expect(serialOf(await readFile(join(dir, 'bundle.json')))).toBe(400);
      expect((await readdir(dir)).sort()).toEqual(['bundle-400.json', 'bundle.json']);
    });

    it('compares with a newer bundle-<serial>.json left by an interrupted publish', async () => {
      const dir = freshDir();
      expect((await publish(await bundle(500), `file://${dir}`)).code).toBe(0);
      await writeFile(join(dir, 'bundle-502.json'), await readFile(await bundle(502)));
      expect((await publish(await bundle(501), `file://${dir}`)).code).toBe(1);
      // Publishing 502 again finishes the interrupted publish.
      const resumed = await publish(join(work, 'in-502.json'), `file://${dir}`);
      expect(resumed.code).toBe(0);
      expect(serialOf(await readFile(join(dir, 'bundle.json')))).toBe(502);
    });
  });

  describe('when the envelope does not parse or does not verify', () => {
    it('refuses it (exit 1) and writes nothing', async () => {
      const dir = freshDir();
      const garbage = join(work, 'garbage.json');
      await writeFile(garbage, '{"payloadType": "application/vnd.modelgate.bundle.v1+json", "payload": "not base64!", "signatures": []}');
      const malformed = await runCli(['publish', garbage, '--to', `file://${dir}`]);
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toContain('MG_BUNDLE_MALFORMED');
      const untrusted = await runCli(['publish', await bundle(600), '--to', `file://${dir}`, '--public-key', otherKey]);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toContain('MG_BUNDLE_BAD_SIGNATURE');
      await expect(readdir(dir)).rejects.toThrow();
    });
  });

  describe('when bundle.json at the destination is not a bundle', () => {
    it('refuses with MG_PUBLISH_CURRENT_UNREADABLE (exit 2)', async () => {
      const dir = freshDir();
      await mkdir(dir);
      await writeFile(join(dir, 'bundle.json'), '<html>oops</html>');
      const result = await publish(await bundle(700), `file://${dir}`);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('MG_PUBLISH_CURRENT_UNREADABLE');
    });
  });

  describe('when a publisher died holding the lock', () => {
    it('breaks the stale lock and publishes', async () => {
      const dir = freshDir();
      await mkdir(dir);
      // A pid above Linux's pid_max: no such process.
      await writeFile(join(dir, '.modelgate-publish.lock'), JSON.stringify({ pid: 99_999_999, host: hostname(), nonce: 'dead', at: '2026-01-01T00:00:00Z' }));
      const result = await publish(await bundle(800), `file://${dir}`);
      expect(result.code).toBe(0);
      expect((await readdir(dir)).sort()).toEqual(['bundle-800.json', 'bundle.json']);
    });
  });

  describe('when a live publisher holds the lock past the wait', () => {
    it('gives up with MG_PUBLISH_LOCKED', async () => {
      const dir = freshDir();
      await mkdir(dir);
      const lock = join(dir, 'lock');
      let release = (): void => {};
      let holding = (): void => {};
      const holds = new Promise<void>((resolve) => (holding = resolve));
      const held = withFileLock(lock, { timeoutMs: 1000, staleMs: 60_000 }, () => {
        holding();
        return new Promise<void>((resolve) => (release = resolve));
      });
      // Only once the first holds it: both opens run on libuv's pool, and either may win the file.
      await holds;
      await expect(withFileLock(lock, { timeoutMs: 150, staleMs: 60_000 }, async () => 'second')).rejects.toMatchObject({ code: 'MG_PUBLISH_LOCKED' });
      release();
      await held;
      await expect(withFileLock(lock, { timeoutMs: 150, staleMs: 60_000 }, async () => 'second')).resolves.toBe('second');
      expect(await readdir(dir)).toEqual([]);
    });
  });

  describe('when two publishers with different serials race', () => {
    it('never lets bundle.json go backwards, and the higher serial wins', async () => {
      for (let round = 0; round < 4; round++) {
        const dir = freshDir();
        const low = 1000 + round * 10;
        expect((await publish(await bundle(low - 1), `file://${dir}`)).code).toBe(0);
        const files = [await bundle(low), await bundle(low + 1)];
        const seen: number[] = [];
        let watching = true;
        const watcher = (async () => {
          while (watching) {
            const bytes = await readFile(join(dir, 'bundle.json'));
            seen.push(serialOf(bytes)); // a half-written file would throw here
            await new Promise((r) => setTimeout(r, 2));
          }
        })();
        const order = round % 2 === 0 ? files : [...files].reverse();
        const results = await Promise.all(order.map((file) => publish(file, `file://${dir}`)));
        watching = false;
        await watcher;
        const [lowResult, highResult] = round % 2 === 0 ? results : [...results].reverse();
        expect(highResult!.code).toBe(0);
        expect([0, 1]).toContain(lowResult!.code);
        if (lowResult!.code === 1) expect(lowResult!.stderr).toContain('MG_PUBLISH_STALE_SERIAL');
        expect(serialOf(await readFile(join(dir, 'bundle.json')))).toBe(low + 1);
        expect(seen.every((serial, i) => i === 0 || serial >= seen[i - 1]!)).toBe(true);
        expect((await readdir(dir)).filter((name) => !/^bundle(-\d+)?\.json$/.test(name))).toEqual([]);
      }
    });
  });
  describe('when many publishers race on one folder (in one process, so they truly overlap)', () => {
    it('ends at the highest serial, refuses only stale ones, and bundle.json never goes backwards', async () => {
      const dir = freshDir();
      const serials = [5005, 5001, 5009, 5003, 5008, 5002, 5007, 5004, 5006, 5010, 5000, 5011];
      const bundles = await Promise.all(
        serials.map(async (serial) => readPublishable(await buildBundle(policies, serial, signer.privateKey), null, Date.now())),
      );
      const seen: number[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const bytes = await readFile(join(dir, 'bundle.json')).catch(() => null);
          if (bytes !== null) seen.push(serialOf(bytes));
          await new Promise((r) => setImmediate(r));
        }
      })();
      const outcomes = await Promise.allSettled(bundles.map((b) => fileDestination(dir, { keep: 3 }).publish(b)));
      watching = false;
      await watcher;
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'MG_PUBLISH_STALE_SERIAL' });
      expect(serialOf(await readFile(join(dir, 'bundle.json')))).toBe(5011);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((serial, i) => i === 0 || serial >= seen[i - 1]!)).toBe(true);
      // The archive holds the three highest serials that were published (a 5009 that came after 5010 was refused).
      const published = serials.filter((_, i) => outcomes[i]!.status === 'fulfilled').sort((a, b) => b - a);
      expect((await readdir(dir)).sort()).toEqual([
        ...published
          .slice(0, 3)
          .reverse()
          .map((serial) => `bundle-${serial}.json`),
        'bundle.json',
      ]);
    });
  });
});

describe('publish to github-release://OWNER/REPO', () => {
  const TOKEN = 'ghs_publishtesttoken';
  let state: GitHubReleaseState;
  let api: GitHubApi;
  const env = (): NodeJS.ProcessEnv => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: api.url, GITHUB_SERVER_URL: api.url });
  const toGitHub = (file: string, ...rest: string[]): Promise<CliResult> =>
    runCli(['publish', file, '--to', 'github-release://acme/policy-bundles', '--public-key', publicKey, ...rest], { env: env() });

  beforeAll(async () => {
    state = gitHubReleaseState('acme', 'policy-bundles');
    api = await startGitHubApi(githubReleaseRoutes(state), { token: TOKEN });
  });
  afterAll(() => api?.close());
  afterEach(() => {
    state.beforeCreate = null;
  });

  it('creates release modelgate-bundle-<serial> with asset bundle.json, marks it latest, and prints the stable URL', async () => {
    const file = await bundle(2000);
    const result = await toGitHub(file, '--format', 'json');
    expect(result.code).toBe(0);
    const stable = `${api.url}/acme/policy-bundles/releases/latest/download/bundle.json`;
    expect(json(result)).toMatchObject({ ok: true, status: 'published', serial: 2000, previous: null, poll_url: stable });
    expect(state.releases.map((r) => r.tagName)).toEqual(['modelgate-bundle-2000']);
    expect(latestAsset(state)).toEqual(await readFile(file));
    expect(state.releases[0]!.assets[0]!.contentType).toBe('application/json');
    // The stable URL redirects to the asset, anonymously.
    const download = await fetch(stable);
    expect(download.redirected).toBe(true);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(await readFile(file));
  });

  it('treats the same serial and digest as a no-op, and refuses an older serial', async () => {
    const same = await toGitHub(join(work, 'in-2000.json'));
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('already holds serial 2000 with the same digest');
    const older = await toGitHub(await bundle(1999));
    expect(older.code).toBe(1);
    expect(older.stderr).toContain('MG_PUBLISH_STALE_SERIAL');
    expect(state.releases).toHaveLength(1);
  });

  it('moves latest to a higher serial', async () => {
    const result = await toGitHub(await bundle(2001));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('previous serial 2000');
    expect(serialOf(latestAsset(state)!)).toBe(2001);
  });

  describe('when the tag for this serial already exists with other content', () => {
    it('refuses with MG_PUBLISH_STALE_SERIAL (the tag arbitrates)', async () => {
      addRelease(state, 'modelgate-bundle-2005', { 'bundle.json': await readFile(await bundle(2005, 'other')) }, false);
      const result = await toGitHub(await bundle(2005));
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/MG_PUBLISH_STALE_SERIAL .*release modelgate-bundle-2005.*different content/);
      expect(serialOf(latestAsset(state)!)).toBe(2001);
    });
  });

  describe('when a higher serial is released while this publish runs', () => {
    it('leaves its own release unmarked and refuses with MG_PUBLISH_STALE_SERIAL', async () => {
      const newer = await readFile(await bundle(2010));
      state.beforeCreate = () => {
        state.beforeCreate = null;
        addRelease(state, 'modelgate-bundle-2010', { 'bundle.json': newer }, true);
      };
      const result = await toGitHub(await bundle(2008));
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('serial 2010 was released while this publish ran');
      expect(latestAsset(state)).toEqual(newer);
      expect(state.releases.some((r) => r.tagName === 'modelgate-bundle-2008')).toBe(true);
    });
  });

  describe('when the token is wrong or missing', () => {
    it('exits 2 with MG_PUBLISH_DESTINATION_FAILED, or asks for GITHUB_TOKEN', async () => {
      const file = await bundle(2020);
      const wrong = await runCli(['publish', file, '--to', 'github-release://acme/policy-bundles'], { env: { ...env(), GITHUB_TOKEN: 'ghs_wrong' } });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(/MG_PUBLISH_DESTINATION_FAILED GitHub: cannot read the latest release: HTTP 401: Bad credentials \(check GITHUB_TOKEN\)/);
      expect(wrong.stderr).not.toContain('ghs_wrong');
      const missing = await runCli(['publish', file, '--to', 'github-release://acme/policy-bundles'], { env: { ...env(), GITHUB_TOKEN: '' } });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('GITHUB_TOKEN is not set');
    });
  });
});

describe('publish to https://URL (a presigned PUT)', () => {
  const SIGNATURE = 'c2VjcmV0LXNpZ25hdHVyZS1kby1ub3QtcHJpbnQ';
  let server: Server;
  let base: string;
  const objects = new Map<string, { bytes: Buffer; contentType: string }>();
  const puts: string[] = [];

  beforeAll(async () => {
    // An object store stand-in: PUT needs the signature in the query; GET is public.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', base);
        if (req.method === 'PUT') {
          puts.push(url.pathname);
          if (url.searchParams.get('X-Amz-Signature') !== SIGNATURE || url.pathname.startsWith('/denied/')) {
            res.writeHead(403, { 'content-type': 'application/xml' });
            return res.end(
              `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><CanonicalRequest>PUT ${url.pathname} ${url.search}</CanonicalRequest></Error>`,
            );
          }
          objects.set(url.pathname, { bytes: Buffer.concat(chunks), contentType: String(req.headers['content-type']) });
          res.writeHead(200, { etag: '"x"' });
          return res.end();
        }
        const object = objects.get(url.pathname);
        res.writeHead(object === undefined ? 404 : 200, { 'content-type': 'application/json' });
        res.end(object?.bytes);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const presigned = (path: string): string => `${base}${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=${SIGNATURE}`;

  it('PUTs the envelope as application/json and compares with --current first', async () => {
    const file = await bundle(3000);
    const result = await publish(file, presigned('/b/bundle.json'), '--current', `${base}/b/bundle.json`, '--format', 'json');
    expect(result.code).toBe(0);
    expect(json(result)).toMatchObject({
      status: 'published',
      previous: null,
      destination: `${base}/b/bundle.json?[redacted]`,
      poll_url: `${base}/b/bundle.json`,
    });
    expect(objects.get('/b/bundle.json')).toEqual({ bytes: await readFile(file), contentType: 'application/json' });
    expect(result.stdout + result.stderr).not.toContain(SIGNATURE);

    const count = puts.length;
    const same = await publish(file, presigned('/b/bundle.json'), '--current', `${base}/b/bundle.json`);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('already holds serial 3000');
    const older = await publish(await bundle(2999), presigned('/b/bundle.json'), '--current', `${base}/b/bundle.json`);
    expect(older.code).toBe(1);
    expect(older.stderr).toContain('MG_PUBLISH_STALE_SERIAL');
    expect(puts.length).toBe(count);
  });

  it('without --current, PUTs and says the serial was not compared', async () => {
    const result = await publish(await bundle(3100), presigned('/c/bundle.json'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('not compared');
    expect(serialOf(objects.get('/c/bundle.json')!.bytes)).toBe(3100);
  });

  describe('when the store refuses the PUT', () => {
    it('exits 2 with the status and the store code, never the signed query string', async () => {
      const result = await publish(await bundle(3200), presigned('/denied/bundle.json'), '--format', 'json');
      expect(result.code).toBe(2);
      expect(json(result)).toMatchObject({ code: 'MG_PUBLISH_DESTINATION_FAILED' });
      expect(result.stdout).toContain(`PUT ${base}/denied/bundle.json?[redacted] answered HTTP 403 (SignatureDoesNotMatch)`);
      for (const secret of [SIGNATURE, 'AKIAEXAMPLE', 'X-Amz']) expect(result.stdout + result.stderr).not.toContain(secret);
    });
  });

  it('refuses plain http:// to a host other than loopback (exit 2)', async () => {
    const result = await publish(await bundle(3300), 'http://bundles.example.com/bundle.json?sig=abc');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('only allowed to a loopback host');
    expect(result.stderr).not.toContain('sig=abc');
  });
});

describe('publish error codes', () => {
  it('are each documented in docs/publishing.md with their exit code, and every documented code exists', async () => {
    const docs = await readFile(new URL('../../docs/publishing.md', import.meta.url), 'utf8');
    const documented = new Map([...docs.matchAll(/^\| `(MG_PUBLISH_[A-Z_]+)` \| (\d) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(Object.entries(PUBLISH_ERROR_CODES).map(([code, { exit }]) => [code, exit])));
  });
});
