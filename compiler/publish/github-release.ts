// github-release://OWNER/REPO: one release per serial (tag modelgate-bundle-<serial>) carrying the
// envelope as asset bundle.json, marked latest. Runtimes poll GitHub's stable
// /OWNER/REPO/releases/latest/download/bundle.json, which redirects to the latest release's asset.
// Ordering: the tag arbitrates one serial (creating an existing tag fails with 422), and the
// highest serial is re-checked right before and after marking a release latest.
import { Octokit } from '@octokit/rest';
import type { Destination, PublishResult } from './destination.ts';
import { type Publishable, readPublished } from './envelope.ts';
import { PublishError, type Published } from './errors.ts';
import { decidePublish } from './order.ts';

const TAG_PREFIX = 'modelgate-bundle-';
const ASSET_NAME = 'bundle.json';
const TAG = /^modelgate-bundle-(\d{1,16})$/;

export interface GitHubReleaseOptions {
  owner: string;
  repo: string;
  token: string;
  /** REST API base (GITHUB_API_URL), e.g. https://api.github.com. */
  apiUrl: string;
  /** Web base (GITHUB_SERVER_URL), e.g. https://github.com: where the stable download URL lives. */
  serverUrl: string;
  timeoutMs: number;
}

interface Release {
  id: number;
  tag_name: string;
  assets: { id: number; name: string }[];
}

const QUIET = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** The URL runtimes poll for a github-release:// destination. */
function stableDownloadUrl(serverUrl: string, owner: string, repo: string): string {
  return `${serverUrl.replace(/\/+$/, '')}/${owner}/${repo}/releases/latest/download/${ASSET_NAME}`;
}

/** github-release://OWNER/REPO: one release per serial, marked latest. */
export function githubReleaseDestination(options: GitHubReleaseOptions): Destination {
  const { owner, repo } = options;
  const display = `github-release://${owner}/${repo}`;
  return {
    display,
    publish: (bundle) => publish(bundle, options, display),
  };
}

async function publish(bundle: Publishable, options: GitHubReleaseOptions, display: string): Promise<PublishResult> {
  const { owner, repo } = options;
  const octokit = new Octokit({
    auth: options.token,
    baseUrl: options.apiUrl.replace(/\/+$/, ''),
    log: QUIET,
    userAgent: 'modelgate-publish',
    request: { signal: AbortSignal.timeout(options.timeoutMs) },
  });
  const pollUrl = stableDownloadUrl(options.serverUrl, owner, repo);
  const notes: string[] = [];
  const tag = `${TAG_PREFIX}${bundle.serial}`;

  // 1. What runtimes get now.
  const latest = await call('read the latest release', () => octokit.rest.repos.getLatestRelease({ owner, repo }), [404]);
  let current: Published | null = null;
  if (latest !== null && TAG.test(latest.data.tag_name)) current = await readReleaseBundle(octokit, options, latest.data);
  else if (latest !== null) notes.push(`the latest release (${latest.data.tag_name}) is not a modelgate bundle; use a repository that holds only bundles`);
  if (decidePublish(bundle, current, display) === 'unchanged') return { status: 'unchanged', previous: current, pollUrl, notes };

  // 2. The tag arbitrates: only one release can carry this serial.
  let release: Release;
  const created = await call(
    `create release ${tag}`,
    () =>
      octokit.rest.repos.createRelease({
        owner,
        repo,
        tag_name: tag,
        name: `modelgate bundle ${bundle.serial}`,
        body: releaseBody(bundle),
        make_latest: 'false',
      }),
    [422],
  );
  if (created !== null) release = created.data;
  else {
    // The tag exists: another publisher of this serial, or an earlier run of ours that died.
    const existing = await call(`read release ${tag}`, () => octokit.rest.repos.getReleaseByTag({ owner, repo, tag }), [404]);
    if (existing === null)
      throw new PublishError(
        'MG_PUBLISH_STALE_SERIAL',
        `${display}: tag ${tag} exists without a release; serial ${bundle.serial} was used before (compile again for a new serial)`,
        { current },
      );
    release = existing.data;
    const held = await readReleaseBundle(octokit, options, release);
    if (held !== null) decidePublish(bundle, held, `${display} (release ${tag})`);
    notes.push(`release ${tag} already existed; resumed it`);
  }

  // 3. The asset (unless an earlier run of this same bundle uploaded it).
  if (!release.assets.some((asset) => asset.name === ASSET_NAME)) {
    const uploaded = await call(
      `upload ${ASSET_NAME} to release ${tag}`,
      () =>
        octokit.rest.repos.uploadReleaseAsset({
          owner,
          repo,
          release_id: release.id,
          url: (release as Release & { upload_url: string }).upload_url,
          name: ASSET_NAME,
          data: bundle.bytes as unknown as string,
          headers: { 'content-type': 'application/json' },
        }),
      [422],
    );
    if (uploaded === null) {
      // A concurrent publisher of the same serial uploaded first: same content or refuse.
      const again = await call(`read release ${tag}`, () => octokit.rest.repos.getReleaseByTag({ owner, repo, tag }));
      const held = await readReleaseBundle(octokit, options, again.data);
      if (held !== null) decidePublish(bundle, held, `${display} (release ${tag})`);
    }
  }

  // 4. Re-check right before marking latest: a higher serial may have been released meanwhile.
  const before = await highestRelease(octokit, options);
  if (before !== null && before.serial > bundle.serial) {
    throw new PublishError(
      'MG_PUBLISH_STALE_SERIAL',
      `${display}: serial ${before.serial} was released while this publish ran; release ${tag} is left, not marked latest`,
      { current: await readReleaseBundle(octokit, options, before.release) },
    );
  }
  await call(`mark release ${tag} latest`, () => octokit.rest.repos.updateRelease({ owner, repo, release_id: release.id, make_latest: 'true' }));

  // 5. ... and right after: marking has no compare-and-set, so a slower publisher of a lower
  // serial may have marked its release after ours; whoever sees that hands latest back to the highest.
  const after = await highestRelease(octokit, options);
  if (after !== null && after.serial > bundle.serial) {
    await call(`mark release ${after.release.tag_name} latest`, () =>
      octokit.rest.repos.updateRelease({ owner, repo, release_id: after.release.id, make_latest: 'true' }),
    );
    notes.push(`serial ${after.serial} was released meanwhile and is the latest`);
  }
  return { status: 'published', previous: current, pollUrl, notes };
}

function releaseBody(bundle: Publishable): string {
  return `Signed modelgate policy bundle, published by \`modelgate publish\`.\n\n- serial: ${bundle.serial}\n- revision: ${bundle.revision}\n- audience: ${bundle.audience}\n- payload sha256: ${bundle.digest}\n- expires: ${bundle.expiresAt}\n`;
}

/** The highest-serial bundle release among the newest 100 releases that carries the asset. */
async function highestRelease(octokit: Octokit, { owner, repo }: GitHubReleaseOptions): Promise<{ serial: number; release: Release } | null> {
  const page = await call('list releases', () => octokit.rest.repos.listReleases({ owner, repo, per_page: 100 }));
  let best: { serial: number; release: Release } | null = null;
  for (const release of page.data) {
    const serial = Number(TAG.exec(release.tag_name)?.[1] ?? NaN);
    if (Number.isSafeInteger(serial) && release.assets.some((a) => a.name === ASSET_NAME) && (best === null || serial > best.serial))
      best = { serial, release };
  }
  return best;
}

/** Downloads a release's bundle.json through the API (works for private repositories too). */
async function readReleaseBundle(octokit: Octokit, { owner, repo }: GitHubReleaseOptions, release: Release): Promise<Published | null> {
  const asset = release.assets.find((a) => a.name === ASSET_NAME);
  if (asset === undefined) return null;
  const response = await call(`download ${ASSET_NAME} of release ${release.tag_name}`, () =>
    octokit.rest.repos.getReleaseAsset({ owner, repo, asset_id: asset.id, headers: { accept: 'application/octet-stream' } }),
  );
  const data = response.data as unknown;
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : typeof data === 'string' ? Buffer.from(data) : Buffer.from(JSON.stringify(data));
  return readPublished(bytes, `${ASSET_NAME} of release ${release.tag_name}`);
}

/** Runs one API call; the statuses in `absent` answer null, anything else is MG_PUBLISH_DESTINATION_FAILED. */
async function call<T>(what: string, fn: () => Promise<T>, absent: number[]): Promise<T | null>;
async function call<T>(what: string, fn: () => Promise<T>): Promise<T>;
async function call<T>(what: string, fn: () => Promise<T>, absent: number[] = []): Promise<T | null> {
  try {
    return await fn();
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && absent.includes(status) && isExpected(status, error)) return null;
    if (error instanceof PublishError) throw error;
    const message = (error as { response?: { data?: { message?: unknown } } }).response?.data?.message;
    const detail =
      typeof status === 'number' && status > 0 && (error as { response?: unknown }).response !== undefined
        ? `HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`
        : networkReason(error);
    const hint = status === 401 ? ' (check GITHUB_TOKEN)' : status === 403 || status === 404 ? ' (the token needs contents: write on the repository)' : '';
    throw new PublishError('MG_PUBLISH_DESTINATION_FAILED', `GitHub: cannot ${what}: ${detail}${hint}`, { cause: error });
  }
}

// A 422 is "already exists" only when GitHub says so (other 422s are real validation errors).
function isExpected(status: number, error: unknown): boolean {
  if (status !== 422) return true;
  const errors = (error as { response?: { data?: { errors?: { code?: unknown }[] } } }).response?.data?.errors;
  return Array.isArray(errors) && errors.some((e) => e.code === 'already_exists');
}

function networkReason(error: unknown): string {
  if ((error as { name?: string }).name === 'TimeoutError' || (error as { cause?: { name?: string } }).cause?.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: unknown; cause?: { code?: unknown } } }).cause;
  const code = cause?.code ?? cause?.cause?.code;
  return typeof code === 'string' ? `network error (${code})` : 'network error';
}
