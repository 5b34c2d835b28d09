// A small valid policy tree as in-memory files, for check tests that change one thing at a time.
import type { SourceFile } from '../../compiler/load/source-file.ts';

export const BASE_POLICY: Record<string, string> = {
  'gateway.yaml': 'audience: test-gateway\n',
  'providers/openai-main.yaml': [
    'name: openai-main',
    'type: openai',
    'secret: env://OPENAI_MAIN_KEY',
    'models:',
    '  - name: gpt-4o',
    '  - name: gpt-4o-mini',
    '  - name: old-model',
    '    enabled: false',
    '',
  ].join('\n'),
  'directory.yaml': [
    'users:',
    '  - username: alice',
    '    id: u-1',
    '  - username: bob',
    '    id: u-2',
    'teams:',
    '  - name: ml',
    '    members: [alice]',
    'services:',
    '  - name: app1',
    '    id: svc-1',
    '',
  ].join('\n'),
  'authz.yaml': 'authz_rules:\n  - models:\n      - openai-main/gpt-4o\n    users: [alice]\n',
};

/** The base tree with some files replaced (a string) or removed (null). */
export function policyFiles(overrides: Record<string, string | null> = {}): SourceFile[] {
  const merged: Record<string, string | null> = { ...BASE_POLICY, ...overrides };
  return Object.entries(merged)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([path, text]) => ({ path, text }));
}
