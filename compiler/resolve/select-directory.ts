// Which identity directory a policy set uses: gateway.yaml `directory.source` picks directory.yaml
// (static, the default) or a GitHub org. The environment (token, API URL) is passed in, so callers
// that analyze several revisions (plan) or tests choose it explicitly.
import { diagnostic } from '../diagnostics/diagnostic.ts';
import type { PolicySet } from '../load/policy-set.ts';
import type { IdentityDirectory } from './directory.ts';
import { gitHubDirectory } from './github-directory.ts';
import { staticDirectory, staticSnapshot } from './static-directory.ts';

export interface DirectoryOptions {
  /** Where MODELGATE_DIRECTORY_TOKEN (else GITHUB_TOKEN), GITHUB_API_URL and MODELGATE_GITHUB_MAX_WAIT are read; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Take GitHub identities from the revision's identity lock, without calling GitHub. */
  pinnedOnly?: boolean;
}

const DEFAULT_API = 'https://api.github.com';

/** The identity directory gateway.yaml selects for this policy set. */
export function directoryFor(set: PolicySet, options: DirectoryOptions = {}): IdentityDirectory {
  const config = set.gateway?.data.directory;
  if (config?.source !== 'github') return staticDirectory(set.directory);
  const gateway = set.gateway!;
  if (config.org === undefined || config.org === '') {
    return {
      source: 'github',
      resolve: async () => {
        const { snapshot, diagnostics } = staticSnapshot(null);
        diagnostics.push(
          diagnostic(
            'MG_SCHEMA_MISSING_FIELD',
            gateway.file,
            gateway.locate(['directory']),
            'directory.source is github but directory.org is missing',
            'name the GitHub organization: `directory: {source: github, org: acme}`',
          ),
        );
        return { snapshot: { ...snapshot, explainMissing: () => ({ reason: 'cannot be resolved: gateway.yaml names no GitHub org' }) }, diagnostics };
      },
    };
  }
  const env = options.env ?? process.env;
  const maxWait = Number(env.MODELGATE_GITHUB_MAX_WAIT);
  return gitHubDirectory(set, {
    org: config.org,
    // A separate variable first: in a pull request workflow GITHUB_TOKEN is the Actions token (it
    // may comment, but cannot read org teams), while the directory needs an org-reading token.
    token: env.MODELGATE_DIRECTORY_TOKEN || env.GITHUB_TOKEN,
    ...(options.pinnedOnly === true ? { pinnedOnly: true } : {}),
    baseUrl: env.GITHUB_API_URL || DEFAULT_API,
    ...(Number.isFinite(maxWait) && maxWait >= 0 && env.MODELGATE_GITHUB_MAX_WAIT !== '' ? { maxWaitMs: maxWait * 1000 } : {}),
  });
}
