// `modelgate audit` through the real CLI over a real git repository: who could use a model at a
// commit or a date and which commit granted it, and one principal's timeline, followed by stable id.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyRepo, type PolicyRepo } from '../support/policy-repo.ts';
import { runCli } from '../support/run-cli.ts';

interface CommitJson {
  id: string;
  author: string;
  date: string;
  subject: string;
}

interface WhoCanJson {
  ok: boolean;
  code?: string;
  message?: string;
  at: string;
  policyCommit: CommitJson;
  models: { fqn: string; enabled: boolean }[];
  grants: { model: string; principal: { kind: string; name: string; id: string }; sources: string[]; expires?: string; introduced: CommitJson }[];
  skipped: CommitJson[];
}

interface HistoryJson {
  ok: boolean;
  code?: string;
  message?: string;
  principal: { kind: string; name: string; id: string };
  events: (
    | { type: 'commit'; commit: CommitJson; name: string; identity: object[]; gained: object[]; lost: object[]; expiryChanged: object[]; keys: object[] }
    | { type: 'lapsed'; at: string; model: string; sources: string[]; commit: CommitJson }
  )[];
  skipped: CommitJson[];
}

const CAROL_KEY = 'CaroLKey0001';
const KEY_RECORD = `id: ${CAROL_KEY}\nprincipal: carol\nsha256: ${'ab'.repeat(32)}\ncreated: 2026-11-01T00:00:00Z\ndescription: carol laptop\n`;

let repo: PolicyRepo;
/** Commit ids by name, in order. */
const c: Record<'example' | 'grant' | 'revoke' | 'rename' | 'contract' | 'readme' | 'typo' | 'fix', string> = {} as never;
let treeBefore: string;

beforeAll(async () => {
  repo = await createPolicyRepo();
  c.example = await repo.commit('example policies');
  await repo.edit('authz/azure.yaml', (t) => t.replace('users: [alice, bob]', 'users: [alice, bob, carol]'));
  await repo.write(`keys/${CAROL_KEY}.yaml`, KEY_RECORD);
  c.grant = await repo.commit('grant carol the Azure dev models');
  await repo.edit('authz/azure.yaml', (t) => t.replace('users: [alice, bob, carol]', 'users: [alice, bob]'));
  await repo.edit(`keys/${CAROL_KEY}.yaml`, (t) => `${t}revoked: true\n`);
  c.revoke = await repo.commit('revoke carol');
  await repo.edit('directory.yaml', (t) => t.replace('username: username2', 'username: dana'));
  await repo.edit('authz.yaml', (t) => t.replace('- username2', '- dana'));
  await repo.edit('authz/mock.yaml', (t) => t.replace('username2, ', 'dana, '));
  await repo.edit('identities.lock.yaml', (t) => t.replace('  username1: u-1001', '  dana: u-1002\n  username1: u-1001'));
  c.rename = await repo.commit('rename username2 to dana');
  await repo.edit(
    'authz/azure.yaml',
    (t) => `${t}  - description: contractor trial of production\n    models: [azure-prod/gpt-4o]\n    users: [carol]\n    expires: 2026-12-15T00:00:00Z\n`,
  );
  c.contract = await repo.commit('carol: Azure prod until mid-December');
  await writeFile(join(repo.root, 'README.md'), 'policy repository\n');
  c.readme = await repo.commit('readme (no policy change)');
  await repo.edit('authz/azure.yaml', (t) => t.replace('users: [alice, bob]', 'users: [alice, bob, carl]'));
  c.typo = await repo.commit('grant carol again (typo)');
  await repo.edit('authz/azure.yaml', (t) => t.replace('users: [alice, bob, carl]', 'users: [alice, bob, carol]'));
  c.fix = await repo.commit('fix the name');
  treeBefore = await repo.git('status', '--porcelain', '--ignored');
});

afterAll(async () => {
  await repo.cleanup();
});

const audit = (...args: string[]) => runCli(['audit', ...args], { cwd: repo.root });
const whoCan = async (...args: string[]): Promise<WhoCanJson> => {
  const result = await audit('who-can', ...args, '--format', 'json');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as WhoCanJson;
};
/** "name=id model <- commit" per grant: who, what, and the commit that introduced it. */
const answers = (json: WhoCanJson) => json.grants.map((g) => `${g.principal.name}=${g.principal.id} ${g.model} <- ${name(g.introduced.id)}`);
const name = (id: string) => Object.entries(c).find(([, commit]) => commit === id)?.[0] ?? id;
const at = (tick: number) => `2026-11-01T00:00:${String(tick).padStart(2, '0')}.000Z`;

describe('modelgate audit who-can', () => {
  it('names each grant of the current revision with the commit that introduced it, as text', async () => {
    const result = await audit('who-can', 'azure-dev/gpt-4o', '--at', c.fix);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const line = (commit: keyof typeof c, tick: number, subject: string) => `${c[commit].slice(0, 12)} ${at(tick)} Policy Author "${subject}"`;
    expect(result.stdout).toBe(
      [
        `who can use azure-dev/gpt-4o at ${at(8)}: policies of ${line('fix', 8, 'fix the name')}`,
        'azure-dev/gpt-4o',
        '  user alice (u-2001)  authz/azure.yaml:2:5',
        `    granted in ${line('example', 1, 'example policies')}`,
        '  user bob (u-2002)  authz/azure.yaml:2:5',
        `    granted in ${line('example', 1, 'example policies')}`,
        '  user carol (u-3001)  authz/azure.yaml:2:5',
        `    granted in ${line('fix', 8, 'fix the name')}`,
        `(passed over 1 commit whose policies do not compile: ${c.typo.slice(0, 12)})`,
        '',
      ].join('\n'),
    );
  });

  describe('when carol was granted, revoked and granted again', () => {
    it('answers with the most recent commit where her grant went from absent to present', async () => {
      const json = await whoCan('azure-dev/gpt-4o');
      expect(json.policyCommit.id).toBe(c.fix);
      expect(answers(json)).toEqual([
        'alice=u-2001 azure-dev/gpt-4o <- example',
        'bob=u-2002 azure-dev/gpt-4o <- example',
        'carol=u-3001 azure-dev/gpt-4o <- fix',
      ]);
      expect(json.skipped.map((s) => name(s.id))).toEqual(['typo']);
      expect(json.grants[2]!.introduced).toEqual({ id: c.fix, author: 'Policy Author', date: at(8), subject: 'fix the name' });
    });

    it("answers at an earlier revision with that revision's grants", async () => {
      expect(answers(await whoCan('azure-dev/gpt-4o', '--at', c.grant))).toEqual([
        'alice=u-2001 azure-dev/gpt-4o <- example',
        'bob=u-2002 azure-dev/gpt-4o <- example',
        'carol=u-3001 azure-dev/gpt-4o <- grant',
      ]);
      expect(answers(await whoCan('azure-dev/gpt-4o', '--at', c.revoke))).toEqual([
        'alice=u-2001 azure-dev/gpt-4o <- example',
        'bob=u-2002 azure-dev/gpt-4o <- example',
      ]);
    });

    it('answers at a date with the last policy commit at or before it, on the branch', async () => {
      const json = await whoCan('azure-dev/gpt-4o', '--at', '2026-11-01T00:00:02Z');
      expect(json.policyCommit.id).toBe(c.grant);
      expect(json.at).toBe(at(2));
      expect(answers(json)).toContain('carol=u-3001 azure-dev/gpt-4o <- grant');
      // The readme commit changed no policy: its date answers with the contract commit before it.
      expect((await whoCan('azure-dev/gpt-4o', '--at', '2026-11-01T00:00:06Z')).policyCommit.id).toBe(c.contract);
      expect((await whoCan('azure-dev/gpt-4o', '--at', c.readme)).policyCommit.id).toBe(c.contract);
    });
  });

  describe('when a user was renamed', () => {
    it('keeps the grant introduced by the commit that first gave it to the stable id', async () => {
      const json = await whoCan('mock/*', '--at', c.rename);
      expect(json.models).toEqual([
        { fqn: 'mock/gpt-4o-mini', enabled: true },
        { fqn: 'mock/text-embedding-3-small', enabled: true },
      ]);
      expect(answers(json).filter((a) => a.startsWith('dana='))).toEqual([
        'dana=u-1002 mock/gpt-4o-mini <- example',
        'dana=u-1002 mock/text-embedding-3-small <- example',
      ]);
      expect(json.grants.find((g) => g.principal.name === 'dana')?.sources).toEqual(['authz/mock.yaml:2:5']);
    });
  });

  describe('when a grant is time-bounded', () => {
    it('holds until its expiry and is gone after it, judged at the date asked about', async () => {
      const during = await whoCan('azure-prod/gpt-4o', '--at', '2026-12-01');
      expect(during.policyCommit.id).toBe(c.fix);
      // Services before users, each by name (as in plan).
      expect(answers(during)).toEqual(['llmapp1=svc-llmapp1 azure-prod/gpt-4o <- example', 'carol=u-3001 azure-prod/gpt-4o <- contract']);
      expect(during.grants[1]).toMatchObject({ sources: ['authz/azure.yaml:8:5'], expires: '2026-12-15T00:00:00.000Z' });
      const after = await whoCan('azure-prod/gpt-4o', '--at', '2026-12-16');
      expect(answers(after)).toEqual(['llmapp1=svc-llmapp1 azure-prod/gpt-4o <- example']);
    });
  });

  it('exits 1 with a suggestion for a model no account declares', async () => {
    const result = await audit('who-can', 'azure-dev/gpt-4', '--at', c.fix);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`model "azure-dev/gpt-4" is not declared by any provider account (did you mean "azure-dev/gpt-4o"?) at ${c.fix.slice(0, 12)}\n`);
    const json = JSON.parse((await audit('who-can', 'nothing/*', '--format', 'json')).stdout) as WhoCanJson;
    expect(json).toMatchObject({ ok: false, code: 'MG_GLOB_MATCHES_NOTHING' });
  });

  it('exits 1 with the diagnostics when the revision asked about does not compile', async () => {
    const result = await audit('who-can', 'azure-dev/gpt-4o', '--at', c.typo);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the policies at ${c.typo.slice(0, 12)} do not compile`);
    expect(result.stderr).toContain('policies/authz/azure.yaml:4:25 error MG_UNKNOWN_USER user "carl" is not in the directory (did you mean "carol"?)');
  });

  it('exits 1 for a date before the first policy commit, and 2 for an unknown revision or a folder outside git', async () => {
    const before = await audit('who-can', 'azure-dev/gpt-4o', '--at', '2026-10-01');
    expect(before.code).toBe(1);
    expect(before.stderr).toBe('no commit changed the policy folder "policies" at or before 2026-10-01T00:00:00.000Z\n');
    const unknown = await audit('who-can', 'azure-dev/gpt-4o', '--at', 'no-such-branch');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/has no commit "no-such-branch"/);
    expect((await audit('who-can')).code).toBe(2);
  });
});

describe('modelgate audit history', () => {
  it("lists every commit that changed carol's access, the key she held, and the grant that lapsed", async () => {
    const result = await audit('history', 'carol', '--at', '2027-01-01', '--format', 'json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as HistoryJson;
    expect(json.principal).toEqual({ kind: 'user', name: 'carol', id: 'u-3001' });
    const timeline = json.events.map((e) =>
      e.type === 'lapsed'
        ? `${e.at} lapsed ${e.model} (${name(e.commit.id)})`
        : `${name(e.commit.id)}: ${[
            ...e.identity.map((i) => JSON.stringify(i)),
            ...e.gained.map((g) => `+${(g as { model: string }).model}`),
            ...e.lost.map((g) => `-${(g as { model: string }).model}`),
            ...e.keys.map((k) => `key ${(k as { id: string }).id} ${(k as { change: string }).change}`),
          ].join(' ')}`,
    );
    expect(timeline).toEqual([
      'example: {"change":"added","name":"carol"} +mock/gpt-4o-mini +mock/text-embedding-3-small +openai-main/gpt-4o-mini',
      `grant: +azure-dev/gpt-4o +azure-dev/gpt-4o-mini key ${CAROL_KEY} added`,
      `revoke: -azure-dev/gpt-4o -azure-dev/gpt-4o-mini key ${CAROL_KEY} revoked`,
      'contract: +azure-prod/gpt-4o',
      'fix: +azure-dev/gpt-4o +azure-dev/gpt-4o-mini',
      '2026-12-15T00:00:00.000Z lapsed azure-prod/gpt-4o (fix)',
    ]);
    expect(json.events[0]).toMatchObject({ commit: { id: c.example, author: 'Policy Author', date: at(1), subject: 'example policies' } });
    expect((json.events[0] as { gained: object[] }).gained).toContainEqual({
      model: 'openai-main/gpt-4o-mini',
      sources: ['authz/openai.yaml:5:5'],
      expires: '2027-03-31T00:00:00.000Z',
    });
    expect(json.skipped.map((s) => name(s.id))).toEqual(['typo']);
  });

  it('shows the timeline as text, one line per commit and one per change', async () => {
    const result = await audit('history', 'carol', '--at', c.revoke);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        `user carol (u-3001): access over 3 policy commits, up to ${c.revoke.slice(0, 12)}, as of ${at(3)}`,
        `${c.example.slice(0, 12)} ${at(1)} Policy Author "example policies"`,
        '  user carol added to the directory',
        '  + mock/gpt-4o-mini  authz/mock.yaml:2:5',
        '  + mock/text-embedding-3-small  authz/mock.yaml:2:5',
        '  + openai-main/gpt-4o-mini  authz/openai.yaml:5:5, until 2027-03-31T00:00:00.000Z',
        `${c.grant.slice(0, 12)} ${at(2)} Policy Author "grant carol the Azure dev models"`,
        '  + azure-dev/gpt-4o  authz/azure.yaml:2:5',
        '  + azure-dev/gpt-4o-mini  authz/azure.yaml:2:5',
        `  key ${CAROL_KEY} added`,
        `${c.revoke.slice(0, 12)} ${at(3)} Policy Author "revoke carol"`,
        '  - azure-dev/gpt-4o  authz/azure.yaml:2:5',
        '  - azure-dev/gpt-4o-mini  authz/azure.yaml:2:5',
        `  key ${CAROL_KEY} revoked`,
        '',
      ].join('\n'),
    );
  });

  describe('when the user was renamed', () => {
    it('follows the stable id: the rename is one event, not a revoke and a grant', async () => {
      const expected = [
        { commit: 'example', name: 'username2', identity: [{ change: 'added', name: 'username2' }], gained: 4, lost: 0 },
        { commit: 'rename', name: 'dana', identity: [{ change: 'renamed', name: 'dana', previous: 'username2' }], gained: 0, lost: 0 },
      ];
      for (const asked of ['dana', 'username2']) {
        const json = JSON.parse((await audit('history', asked, '--format', 'json')).stdout) as HistoryJson;
        expect(json.principal, asked).toEqual({ kind: 'user', name: 'dana', id: 'u-1002' });
        const events = json.events.map((e) =>
          e.type === 'commit' ? { commit: name(e.commit.id), name: e.name, identity: e.identity, gained: e.gained.length, lost: e.lost.length } : e,
        );
        expect(events, asked).toEqual(expected);
      }
    });
  });

  it('exits 1 with a suggestion for a principal no commit knows, and 2 without one', async () => {
    const result = await audit('history', 'carl');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('user "carl" is in no policy commit\'s directory or identity lock (did you mean "carol"?)\n');
    const json = JSON.parse((await audit('history', 'service:nope', '--format', 'json')).stdout) as HistoryJson;
    expect(json).toMatchObject({ ok: false, code: 'MG_UNKNOWN_SERVICE' });
    expect((await audit('history')).code).toBe(2);
    expect((await audit('history', 'carol', '--at', 'deadbeef')).code).toBe(2);
  });
});

it('never touches the working tree or the index', async () => {
  expect(await repo.git('status', '--porcelain', '--ignored')).toBe(treeBefore);
  expect(treeBefore).toBe('');
  expect(await readFile(join(repo.policies, 'authz/azure.yaml'), 'utf8')).toContain('users: [alice, bob, carol]');
  expect((await repo.git('rev-parse', 'HEAD')).trim()).toBe(c.fix);
});
