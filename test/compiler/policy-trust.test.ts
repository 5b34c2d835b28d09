// Policy changes that would move trust silently: where root keys and tokens go, credentials in
// comments, files that shadow each other, tags and OIDC settings the compiler used to accept.
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { BASE_POLICY, policyFiles } from '../support/policy-files.ts';

const NOW = new Date('2026-11-27T12:00:00Z');
const brief = (list: Diagnostic[]) => list.map((d) => `${d.severity} ${d.code} ${d.file}:${d.line}:${d.col}`);
const diagnose = async (overrides: Record<string, string | null>) => (await analyzeFiles(policyFiles(overrides), { now: NOW })).diagnostics;

const provider = (extra: string, type = 'openai-compatible') =>
  `name: openai-main\ntype: ${type}\n${extra}secret: env://OPENAI_MAIN_KEY\nmodels:\n  - name: gpt-4o\n`;
const gateway = (issuers: string) => `audience: test-gateway\noidc:\n  issuers:\n${issuers}`;

describe('when a provider base_url is plain http:// or carries a query', () => {
  it('refuses http:// to another host with MG_URL_INSECURE at the field', async () => {
    expect(brief(await diagnose({ 'providers/openai-main.yaml': provider('base_url: http://attacker.example.com/v1\n') }))).toEqual([
      'error MG_URL_INSECURE providers/openai-main.yaml:3:11',
    ]);
  });

  it.each(['http://127.0.0.1:8080/v1', 'http://localhost:9000', 'http://[::1]:8080/v1', 'https://llm.internal/v1'])('accepts %s', async (url) => {
    expect(await diagnose({ 'providers/openai-main.yaml': provider(`base_url: ${url}\n`) })).toEqual([]);
  });

  it.each(['https://llm.internal/v1?x=1', 'https://llm.internal/v1#frag', 'https://llm.internal/v1?'])(
    'refuses %s with MG_URL_QUERY_OR_FRAGMENT',
    async (url) => {
      expect(brief(await diagnose({ 'providers/openai-main.yaml': provider(`base_url: "${url}"\n`) }))).toEqual([
        'error MG_URL_QUERY_OR_FRAGMENT providers/openai-main.yaml:3:11',
      ]);
    },
  );
});

describe('when an OIDC issuer is plain http://, listed twice, or uses one claim for users and services', () => {
  it('refuses http:// issuers and jwks_uri off this machine with MG_URL_INSECURE', async () => {
    const list = await diagnose({
      'gateway.yaml': gateway(
        '    - issuer: http://login.example.com\n      audience: modelgate\n    - issuer: https://idp.example.com\n      audience: modelgate\n      jwks_uri: http://idp.example.com/jwks\n    - issuer: http://127.0.0.1:9000\n      audience: modelgate\n',
      ),
    });
    expect(brief(list)).toEqual(['error MG_URL_INSECURE gateway.yaml:4:15', 'error MG_URL_INSECURE gateway.yaml:8:17']);
  });

  it('refuses a duplicate issuer with MG_DUPLICATE_OIDC_ISSUER at the second', async () => {
    const list = await diagnose({
      'gateway.yaml': gateway('    - issuer: https://login.example.com\n      audience: a\n    - issuer: https://login.example.com/\n      audience: b\n'),
    });
    expect(brief(list)).toEqual(['error MG_DUPLICATE_OIDC_ISSUER gateway.yaml:6:15']);
  });

  it('refuses user_claim == service_claim with MG_OIDC_CLAIMS_SAME, defaults included', async () => {
    expect(
      brief(
        await diagnose({
          'gateway.yaml': gateway('    - issuer: https://login.example.com\n      audience: a\n      user_claim: azp\n      service_claim: azp\n'),
        }),
      ),
    ).toEqual(['error MG_OIDC_CLAIMS_SAME gateway.yaml:7:22']);
    expect(
      brief(await diagnose({ 'gateway.yaml': gateway('    - issuer: https://login.example.com\n      audience: a\n      service_claim: sub\n') })),
    ).toEqual(['error MG_OIDC_CLAIMS_SAME gateway.yaml:6:22']);
  });

  it('writes user_claim sub into the bundle when gateway.yaml does not name one', async () => {
    const analysis = await analyzeFiles(policyFiles({ 'gateway.yaml': gateway('    - issuer: https://login.example.com\n      audience: a\n') }), { now: NOW });
    const payload = buildPayload(analysis.model!, { serial: 1, revision: 'r', createdAt: NOW });
    expect(payload.oidc.issuers[0]).toMatchObject({ user_claim: 'sub', service_claim: 'client_id' });
  });
});

describe('when a credential is pasted in a YAML comment', () => {
  it('reports MG_SECRET_LITERAL at the comment, without echoing it', async () => {
    const key = `sk-proj-${'A1b2C3d4'.repeat(4)}`;
    const text = BASE_POLICY['providers/openai-main.yaml']!.replace('secret: env://OPENAI_MAIN_KEY', `secret: env://OPENAI_MAIN_KEY   # was ${key}`);
    const list = await diagnose({ 'providers/openai-main.yaml': `# old key: ${key}\n${text}` });
    expect(brief(list)).toEqual(['error MG_SECRET_LITERAL providers/openai-main.yaml:1:1', 'error MG_SECRET_LITERAL providers/openai-main.yaml:4:33']);
    expect(JSON.stringify(list)).not.toContain(key);
  });

  it('does not mistake a # inside a quoted value for a comment', async () => {
    const text = BASE_POLICY['providers/openai-main.yaml']!.replace('name: openai-main\n', 'name: openai-main\ndescription: "team #1 account"\n');
    expect(await diagnose({ 'providers/openai-main.yaml': text })).toEqual([]);
  });
});

describe('when gateway.yml or directory.yml sits beside the .yaml', () => {
  it('reports MG_DUPLICATE_FILE instead of letting one replace the other', async () => {
    const list = await diagnose({ 'gateway.yml': 'audience: other-gateway\n', 'directory.yml': 'users: []\n' });
    expect(brief(list)).toEqual(['error MG_DUPLICATE_FILE directory.yml:1:1', 'error MG_DUPLICATE_FILE gateway.yml:1:1']);
  });
});

describe('when a value carries an unknown YAML tag', () => {
  it('reports MG_YAML_UNKNOWN_TAG at the tag', async () => {
    const list = await diagnose({ 'gateway.yaml': 'audience: !vault test-gateway\n' });
    expect(brief(list)).toEqual(['error MG_YAML_UNKNOWN_TAG gateway.yaml:1:11']);
  });
});
