// Stand-in routes for GitHub releases: create, list, latest, by tag, update (make_latest), asset
// upload on the release's upload_url, asset download through the API (302, as GitHub does), and the
// anonymous web downloads: /OWNER/REPO/releases/download/TAG/NAME and the stable
// /OWNER/REPO/releases/latest/download/NAME (302 to the latest release's asset).
// Compose them with other route tables on one startGitHubApi server.
import { createHash } from 'node:crypto';
import { type GitHubReply, type GitHubRequest, type GitHubRoute, notFound, paginate } from './github-api.ts';

export interface StandInAsset {
  id: number;
  name: string;
  label: string | null;
  contentType: string;
  bytes: Buffer;
  createdAt: string;
}

export interface StandInRelease {
  id: number;
  tagName: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  targetCommitish: string;
  createdAt: string;
  assets: StandInAsset[];
}

export interface GitHubReleaseState {
  owner: string;
  repo: string;
  /** Oldest first; the list route answers newest first, as GitHub does. */
  releases: StandInRelease[];
  /** The release marked latest (make_latest), or null: /releases/latest answers 404. */
  latestId: number | null;
  /** Tags that exist without a release (a tag pushed by hand). */
  bareTags: Set<string>;
  nextId: number;
  /** Called before a release is created, so a test can interleave another publisher's steps. */
  beforeCreate: ((tagName: string) => void | Promise<void>) | null;
}

export function gitHubReleaseState(owner: string, repo: string): GitHubReleaseState {
  return { owner, repo, releases: [], latestId: null, bareTags: new Set(), nextId: 1, beforeCreate: null };
}

/** The bytes of asset `name` of the release marked latest (what runtimes get), or null. */
export function latestAsset(state: GitHubReleaseState, name = 'bundle.json'): Buffer | null {
  return state.releases.find((r) => r.id === state.latestId)?.assets.find((a) => a.name === name)?.bytes ?? null;
}

/** Adds a published release directly (a test's starting point), optionally marked latest. */
export function addRelease(state: GitHubReleaseState, tagName: string, assets: Record<string, Buffer>, latest = true): StandInRelease {
  const release: StandInRelease = {
    id: state.nextId++,
    tagName,
    name: tagName,
    body: null,
    draft: false,
    prerelease: false,
    targetCommitish: 'main',
    createdAt: new Date().toISOString(),
    assets: [],
  };
  for (const [name, bytes] of Object.entries(assets))
    release.assets.push({ id: state.nextId++, name, label: null, contentType: 'application/octet-stream', bytes, createdAt: release.createdAt });
  state.releases.push(release);
  if (latest) state.latestId = release.id;
  return release;
}

export function githubReleaseRoutes(state: GitHubReleaseState): GitHubRoute[] {
  const repo = `${escapeText(state.owner)}\\/${escapeText(state.repo)}`;
  const api = (suffix: string): RegExp => new RegExp(`^\\/repos\\/${repo}\\/releases${suffix}$`, 'i');
  const web = (suffix: string): RegExp => new RegExp(`^\\/${repo}\\/releases${suffix}$`, 'i');
  const byId = (text: string | undefined): StandInRelease | undefined => state.releases.find((r) => r.id === Number(text));

  return [
    {
      method: 'GET',
      pattern: api(''),
      handle: (req) =>
        paginate(
          req,
          [...state.releases].reverse().map((r) => releaseJson(state, req, r)),
        ),
    },
    {
      method: 'GET',
      pattern: api('\\/latest'),
      handle: (req): GitHubReply => {
        const release = byId(String(state.latestId));
        return release === undefined ? notFound() : ok(releaseJson(state, req, release));
      },
    },
    {
      method: 'GET',
      pattern: api('\\/tags\\/(.+)'),
      handle: (req): GitHubReply => {
        const release = state.releases.find((r) => r.tagName === req.params[0]);
        return release === undefined ? notFound() : ok(releaseJson(state, req, release));
      },
    },
    {
      method: 'POST',
      pattern: api(''),
      handle: async (req): Promise<GitHubReply> => {
        const input = JSON.parse(req.body.toString('utf8')) as {
          tag_name?: unknown;
          name?: string;
          body?: string;
          draft?: boolean;
          prerelease?: boolean;
          make_latest?: string;
          target_commitish?: string;
        };
        if (typeof input.tag_name !== 'string' || input.tag_name === '') return validationFailed('Release', 'missing_field', 'tag_name');
        await state.beforeCreate?.(input.tag_name);
        // The tag is the arbiter: a second release for an existing tag fails (GitHub: 422 already_exists).
        if (state.bareTags.has(input.tag_name) || state.releases.some((r) => r.tagName === input.tag_name))
          return validationFailed('Release', 'already_exists', 'tag_name');
        const release: StandInRelease = {
          id: state.nextId++,
          tagName: input.tag_name,
          name: input.name ?? null,
          body: input.body ?? null,
          draft: input.draft === true,
          prerelease: input.prerelease === true,
          targetCommitish: input.target_commitish ?? 'main',
          createdAt: new Date().toISOString(),
          assets: [],
        };
        state.releases.push(release);
        if (input.make_latest !== 'false' && !release.draft && !release.prerelease) state.latestId = release.id;
        return { status: 201, body: releaseJson(state, req, release) };
      },
    },
    {
      method: 'PATCH',
      pattern: api('\\/(\\d+)'),
      handle: (req): GitHubReply => {
        const release = byId(req.params[0]);
        if (release === undefined) return notFound();
        const input = JSON.parse(req.body.toString('utf8')) as { name?: string; body?: string; make_latest?: string };
        if (input.name !== undefined) release.name = input.name;
        if (input.body !== undefined) release.body = input.body;
        if (input.make_latest === 'true') state.latestId = release.id;
        return ok(releaseJson(state, req, release));
      },
    },
    {
      method: 'GET',
      pattern: api('\\/(\\d+)'),
      handle: (req): GitHubReply => {
        const release = byId(req.params[0]);
        return release === undefined ? notFound() : ok(releaseJson(state, req, release));
      },
    },
    {
      // upload_url points here (GitHub: https://uploads.github.com/repos/O/R/releases/ID/assets{?name,label}).
      method: 'POST',
      pattern: new RegExp(`^\\/uploads\\/repos\\/${repo}\\/releases\\/(\\d+)\\/assets$`, 'i'),
      handle: (req): GitHubReply => {
        const release = byId(req.params[0]);
        if (release === undefined) return notFound();
        const name = req.query.get('name');
        if (name === null || name === '') return validationFailed('ReleaseAsset', 'missing_field', 'name');
        if (release.assets.some((a) => a.name === name)) return validationFailed('ReleaseAsset', 'already_exists', 'name');
        const asset: StandInAsset = {
          id: state.nextId++,
          name,
          label: req.query.get('label'),
          contentType: String(req.headers['content-type'] ?? 'application/octet-stream'),
          bytes: Buffer.from(req.body),
          createdAt: new Date().toISOString(),
        };
        release.assets.push(asset);
        return { status: 201, body: assetJson(state, req, release, asset) };
      },
    },
    {
      method: 'GET',
      pattern: api('\\/assets\\/(\\d+)'),
      handle: (req): GitHubReply => {
        const found = findAsset(state, Number(req.params[0]));
        if (found === null) return notFound();
        const [release, asset] = found;
        // With accept: application/octet-stream GitHub redirects to the file; Octokit follows.
        if (String(req.headers.accept ?? '').includes('application/octet-stream'))
          return { status: 302, headers: { location: downloadUrl(state, req, release, asset) } };
        return ok(assetJson(state, req, release, asset));
      },
    },
    {
      method: 'GET',
      anonymous: true,
      pattern: web('\\/download\\/([^/]+)\\/([^/]+)'),
      handle: (req): GitHubReply => {
        const release = state.releases.find((r) => r.tagName === req.params[0]);
        const asset = release?.assets.find((a) => a.name === req.params[1]);
        if (asset === undefined) return { status: 404, body: Buffer.from('Not Found') };
        const etag = `"${createHash('sha256').update(asset.bytes).digest('hex').slice(0, 32)}"`;
        if (req.headers['if-none-match'] === etag) return { status: 304, headers: { etag } };
        return { status: 200, body: asset.bytes, headers: { 'content-type': 'application/octet-stream', etag } };
      },
    },
    {
      // The stable URL runtimes poll: a redirect to the latest release's asset of that name.
      method: 'GET',
      anonymous: true,
      pattern: web('\\/latest\\/download\\/([^/]+)'),
      handle: (req): GitHubReply => {
        const release = byId(String(state.latestId));
        const asset = release?.assets.find((a) => a.name === req.params[0]);
        if (release === undefined || asset === undefined) return { status: 404, body: Buffer.from('Not Found') };
        return { status: 302, headers: { location: downloadUrl(state, req, release, asset) }, body: Buffer.from('') };
      },
    },
  ];
}

function ok(body: unknown): GitHubReply {
  return { status: 200, body };
}

function validationFailed(resource: string, code: string, field: string): GitHubReply {
  return {
    status: 422,
    body: {
      message: 'Validation Failed',
      errors: [{ resource, code, field }],
      documentation_url: 'https://docs.github.com/rest/releases/releases#create-a-release',
    },
  };
}

function findAsset(state: GitHubReleaseState, id: number): [StandInRelease, StandInAsset] | null {
  for (const release of state.releases) {
    const asset = release.assets.find((a) => a.id === id);
    if (asset !== undefined) return [release, asset];
  }
  return null;
}

function downloadUrl(state: GitHubReleaseState, req: GitHubRequest, release: StandInRelease, asset: StandInAsset): string {
  return `${req.baseUrl}/${state.owner}/${state.repo}/releases/download/${encodeURIComponent(release.tagName)}/${encodeURIComponent(asset.name)}`;
}

function releaseJson(state: GitHubReleaseState, req: GitHubRequest, release: StandInRelease): object {
  const base = `${req.baseUrl}/repos/${state.owner}/${state.repo}/releases/${release.id}`;
  return {
    id: release.id,
    url: base,
    html_url: `${req.baseUrl}/${state.owner}/${state.repo}/releases/tag/${encodeURIComponent(release.tagName)}`,
    assets_url: `${base}/assets`,
    upload_url: `${req.baseUrl}/uploads/repos/${state.owner}/${state.repo}/releases/${release.id}/assets{?name,label}`,
    tarball_url: null,
    zipball_url: null,
    tag_name: release.tagName,
    target_commitish: release.targetCommitish,
    name: release.name,
    body: release.body,
    draft: release.draft,
    prerelease: release.prerelease,
    created_at: release.createdAt,
    published_at: release.draft ? null : release.createdAt,
    author: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
    assets: release.assets.map((asset) => assetJson(state, req, release, asset)),
  };
}

function assetJson(state: GitHubReleaseState, req: GitHubRequest, release: StandInRelease, asset: StandInAsset): object {
  return {
    id: asset.id,
    url: `${req.baseUrl}/repos/${state.owner}/${state.repo}/releases/assets/${asset.id}`,
    browser_download_url: downloadUrl(state, req, release, asset),
    name: asset.name,
    label: asset.label,
    state: 'uploaded',
    content_type: asset.contentType,
    size: asset.bytes.length,
    download_count: 0,
    created_at: asset.createdAt,
    updated_at: asset.createdAt,
    uploader: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
  };
}

function escapeText(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
