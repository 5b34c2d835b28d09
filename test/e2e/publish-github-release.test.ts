// A runtime polling the stable GitHub release URL that `modelgate publish` prints: the URL answers
// 302 to the latest release's asset, the runtime follows it, activates the bundle, polls with
// If-None-Match (304 at the asset), and picks up the next published serial.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingPair, startTestGateway, type TestGateway, waitFor } from '../support/gateway.ts';
import { type GitHubApi, startGitHubApi } from '../support/github-api.ts';
import { type GitHubReleaseState, gitHubReleaseState, githubReleaseRoutes } from '../support/github-release-routes.ts';
import { buildBundle, mintTestKeys, writePolicyTree } from '../support/policies.ts';
import { runCli } from '../support/run-cli.ts';

const TOKEN = 'ghs_e2etoken';
const signer = signingPair();
let dir: string;
let state: GitHubReleaseState;
let api: GitHubApi;
let gateway: TestGateway | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mg-publish-e2e-'));
  process.env.MG_PUBLISH_E2E_KEY = 'sk-publish-e2e';
  await writePolicyTree(join(dir, 'p'), mintTestKeys(), {
    upstreamUrl: 'http://127.0.0.1:9',
    azureKeyFile: join(dir, 'none'),
    openaiKeyVar: 'MG_PUBLISH_E2E_KEY',
  });
  await writeFile(join(dir, 'pub.pem'), signer.publicKey.export({ type: 'spki', format: 'pem' }));
  state = gitHubReleaseState('acme', 'policy-bundles');
  api = await startGitHubApi(githubReleaseRoutes(state), { token: TOKEN });
});
afterAll(async () => {
  await gateway?.close();
  await api?.close();
  delete process.env.MG_PUBLISH_E2E_KEY;
  await rm(dir, { recursive: true, force: true });
});

async function publish(serial: number): Promise<string> {
  const file = join(dir, `b-${serial}.json`);
  await writeFile(file, await buildBundle(join(dir, 'p'), serial, signer.privateKey));
  const result = await runCli(['publish', file, '--to', 'github-release://acme/policy-bundles', '--public-key', join(dir, 'pub.pem'), '--format', 'json'], {
    env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: api.url, GITHUB_SERVER_URL: api.url },
  });
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { poll_url: string }).poll_url;
}

const activeSerial = async (): Promise<number | undefined> =>
  ((await (await fetch(`${gateway!.url}/readyz`)).json()) as { bundle: { serial: number } | null }).bundle?.serial;

describe('when a runtime polls the stable github-release URL', () => {
  it('follows the redirect to the asset, activates the bundle, and takes the next published serial', async () => {
    const pollUrl = await publish(10);
    expect(pollUrl).toBe(`${api.url}/acme/policy-bundles/releases/latest/download/bundle.json`);

    gateway = await startTestGateway({ bundle: pollUrl, publicKeys: [signer.publicKey], pollMs: 200 });
    await waitFor(async () => (await activeSerial()) === 10);

    // Unchanged: the stable URL still redirects, and the asset answers 304 to the stored ETag.
    const seen = api.requests.length;
    expect(await gateway.lifecycle.refresh()).toBe('not-modified');
    expect(api.requests.slice(seen)).toEqual([
      'GET /acme/policy-bundles/releases/latest/download/bundle.json',
      'GET /acme/policy-bundles/releases/download/modelgate-bundle-10/bundle.json',
    ]);

    await publish(11);
    await waitFor(async () => (await activeSerial()) === 11);
    expect(gateway.logs.entries().some((e) => e.event === 'bundle_rejected')).toBe(false);
  });
});
