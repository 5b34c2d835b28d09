// Where the policy files first name a user or team: the position a remote directory reports for
// a name it has no file of its own for (an unpinned login, a confusable pair).
import type { JsonPath } from '../load/parse-yaml.ts';
import type { Doc, PolicySet } from '../load/policy-set.ts';
import type { SourceLocation } from './directory.ts';
import { parsePrincipal } from './principal.ts';

/** A lookup of the first rule entry (or key record) naming each user and team; built on first use. */
export function mentionIndex(set: PolicySet): (kind: 'user' | 'team', name: string) => SourceLocation | undefined {
  let index: Map<string, { doc: Doc<unknown>; path: JsonPath }> | null = null;
  const build = (): Map<string, { doc: Doc<unknown>; path: JsonPath }> => {
    const found = new Map<string, { doc: Doc<unknown>; path: JsonPath }>();
    const note = (key: string, doc: Doc<unknown>, path: JsonPath): void => {
      if (!found.has(key)) found.set(key, { doc, path });
    };
    for (const doc of set.authz) {
      doc.data.authz_rules.forEach((rule, i) => {
        rule.users?.forEach((name, j) => {
          note(`user:${name}`, doc, ['authz_rules', i, 'users', j]);
        });
        rule.teams?.forEach((name, j) => {
          note(`team:${name}`, doc, ['authz_rules', i, 'teams', j]);
        });
      });
    }
    for (const doc of set.keys) {
      const principal = parsePrincipal(doc.data.principal);
      if (principal.kind === 'user') note(`user:${principal.name}`, doc, ['principal']);
    }
    return found;
  };
  return (kind, name) => {
    index ??= build();
    const hit = index.get(`${kind}:${name}`);
    return hit === undefined ? undefined : { file: hit.doc.file, at: hit.doc.locate(hit.path) };
  };
}
