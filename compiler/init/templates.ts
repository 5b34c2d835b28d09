// The files `modelgate init` writes: a policy repository of its own, pinned to one modelgate
// version (package.json for the CLI, the reusable workflows' tag for CI). Pure: data in, files out.

export interface ScaffoldOptions {
  /** The modelgate version to pin, e.g. "0.2.0" (the running CLI's). */
  version: string;
  /** OWNER/REPO of modelgate on GitHub, where the reusable workflows live. */
  modelgateRepo: string;
  /** gateway.yaml audience: the gateways that accept this repository's bundles. */
  audience: string;
  /** package.json name of the policy repository. */
  name: string;
}

/** The problem matcher that turns diagnostics into annotations (same as modelgate's own). */
export const PROBLEM_MATCHER = {
  problemMatcher: [
    {
      owner: 'modelgate',
      pattern: [{ regexp: '^(.+?):(\\d+):(\\d+) (error|warning) (MG_[A-Z0-9_]+) (.*)$', file: 1, line: 2, column: 3, severity: 4, code: 5, message: 6 }],
    },
  ],
};

/** Relative path -> content, for a new policy repository. */
export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  const uses = (workflow: string): string => `${o.modelgateRepo}/.github/workflows/${workflow}@v${o.version}`;
  return {
    'package.json':
      JSON.stringify(
        {
          name: o.name,
          private: true,
          description: 'Who may use which LLM models, through modelgate',
          scripts: { check: 'modelgate check --policies policies --frozen-lock', plan: 'modelgate plan --policies policies --base origin/main' },
          devDependencies: { modelgate: o.version },
        },
        null,
        2,
      ) + '\n',
    '.gitignore':
      'node_modules/\nbundle.json\n# Private signing keys never belong in git; the public key the gateways trust does.\n*.pem\n!policies-signing-key.pub.pem\n',
    '.github/modelgate-problem-matcher.json': JSON.stringify(PROBLEM_MATCHER, null, 2) + '\n',
    '.github/workflows/policy-check.yml': `# Pull requests: modelgate check and plan (the access diff as a comment), and ONE status,
# "policy / policy-status", for branch protection to require. The steps live in modelgate's
# reusable workflow, pinned to the same version as package.json: update both together.
name: policy check
on:
  pull_request:
permissions: {}
jobs:
  policy:
    permissions:
      contents: read
      pull-requests: write # the plan comment
    uses: ${uses('policy-check.yml')}
    # MODELGATE_DIRECTORY_TOKEN, only for gateway.yaml directory: {source: github}
    secrets: inherit
`,
    '.github/workflows/policy-publish.yml': `# Merges to main: compile, sign, verify and publish the bundle as a GitHub release asset; daily
# too (bundles expire), and by hand. Needs the secret MODELGATE_SIGNING_KEY (see README.md).
# Daily and by hand it also builds the access review (modelgate report access) as the workflow
# artifact access-review; run it by hand with review_at for a review as of a given date.
name: policy publish
on:
  push:
    branches: [main]
    paths: ["policies/**", "policies-signing-key.pub.pem"]
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:
    inputs:
      review_at:
        description: "access review as of this date (YYYY-MM-DD or RFC 3339; default: now)"
        type: string
        required: false
      review_since:
        description: "the previous review's date, for the changes since then (optional)"
        type: string
        required: false
permissions: {}
jobs:
  publish:
    permissions:
      contents: write # the release that holds bundle.json
      pull-requests: read # the access review: pull requests and their approvals
    uses: ${uses('policy-publish.yml')}
    with:
      review_at: \${{ inputs.review_at || '' }}
      review_since: \${{ inputs.review_since || '' }}
    secrets: inherit
`,
    'README.md': `# ${o.name}

Who may use which LLM models through our gateway, as code. The gateway
([modelgate](https://github.com/${o.modelgateRepo})) only serves what a merged, signed version of
this repository allows.

## Asking for access, or changing it
1. Edit the YAML under \`policies/\`: \`authz.yaml\` (who may use which models), \`directory.yaml\`
   (people, teams, services), \`providers/\` (provider accounts and their models).
2. Check it locally (optional): \`npm ci && npm run check\`.
3. Open a pull request. CI runs \`modelgate check\` (problems appear on the lines of your diff) and
   comments the **access diff**: who gains and who loses which model. Reviewers read that comment.
4. After the merge, CI compiles, signs and publishes the bundle; gateways pick it up within a minute.

An API key for a service: \`npx modelgate keys create --principal service:NAME --expires 90d\` writes
\`policies/keys/<id>.yaml\` (only the key's hash) and prints the key once; commit the file.

## For the maintainers of this repository
- \`package.json\` pins modelgate; \`.github/workflows/*.yml\` call its workflows at the same tag
  (\`v${o.version}\`). Upgrade both in one pull request.
- Signing: \`npx modelgate keygen --out ~/modelgate-keys\`; commit the public key as
  \`policies-signing-key.pub.pem\`; store the private key's PEM as the repository secret
  \`MODELGATE_SIGNING_KEY\`; delete the local copy.
- Branch protection on \`main\`: require the status \`policy / policy-status\`.
`,
    'policies/gateway.yaml': `# The fleet this policy repository is for: gateways refuse bundles for another audience.
audience: ${o.audience}
bundle:
  lifetime: 7d          # expires_at = created_at + lifetime; CI re-signs daily
directory:
  source: static        # directory.yaml
`,
    'policies/directory.yaml': `# Who exists. Ids are stable and never reused, even when a name changes.
users:
  - username: alice
    id: u-0001
teams:
  - name: platform
    members: [alice]
services: []
`,
    'policies/identities.lock.yaml': `# Pinned identity resolutions (name -> stable id), written by modelgate. Commit this file.
version: 1
users:
  alice: u-0001
services: {}
`,
    'policies/providers/mock.yaml': `# An offline provider with deterministic answers, to try the gateway; replace it with your
# accounts (type: openai, azure-openai, openai-compatible, anthropic) and their secret references.
name: mock
type: mock
models:
  - name: gpt-4o-mini
`,
    'policies/authz.yaml': `authz_rules:
  - description: the platform team may try the gateway against the mock provider
    models: ["mock/*"]
    teams: [platform]
`,
    'policies/keys/README.md': 'API key records (`modelgate keys create`): one YAML file per key, holding its hash only.\n',
  };
}
