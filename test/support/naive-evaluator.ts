// A deliberately naive access evaluator for the differential test: it reads the raw policy YAML
// and answers "may this principal use this model at this time?" straight from the rules, with
// none of the compiler's machinery (no catalog, no glob expansion, no access classes, no
// bitsets). If it disagrees with the compiled decision index, one of the two is wrong.
import { minimatch } from 'minimatch';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { SourceFile } from '../../compiler/load/source-file.ts';

export interface NaivePrincipal {
  kind: 'user' | 'service';
  name: string;
}

interface RawRule {
  models: string[];
  users?: string[];
  teams?: string[];
  services?: string[];
  expires?: string;
  /** file:line:col of the rule's list item, like the bundle's rule.source. */
  source: string;
}

export interface NaiveEvaluator {
  /** Every declared model FQN, enabled or not. */
  models: string[];
  users: string[];
  services: string[];
  /** Sources of the rules that grant fqn to principal at atMs (empty when denied). */
  grantingRules(principal: NaivePrincipal, fqn: string, atMs: number): string[];
  allowed(principal: NaivePrincipal, fqn: string, atMs: number): boolean;
}

/** Builds the evaluator from policy files (paths relative to the policy folder). */
export function naiveEvaluator(files: readonly SourceFile[]): NaiveEvaluator {
  const enabled = new Map<string, boolean>();
  const users: string[] = [];
  const services: string[] = [];
  const teams = new Map<string, string[]>();
  const rules: RawRule[] = [];

  for (const file of files) {
    if (/^providers\/[^/]+\.ya?ml$/.test(file.path)) {
      const account = parseDocument(file.text).toJS() as { name: string; models: { name: string; enabled?: boolean }[] };
      for (const model of account.models) enabled.set(`${account.name}/${model.name}`, model.enabled !== false);
    } else if (/^directory\.ya?ml$/.test(file.path)) {
      const directory = parseDocument(file.text).toJS() as {
        users?: { username: string }[];
        teams?: { name: string; members: string[] }[];
        services?: { name: string }[];
      };
      for (const user of directory.users ?? []) users.push(user.username);
      for (const team of directory.teams ?? []) teams.set(team.name, team.members);
      for (const service of directory.services ?? []) services.push(service.name);
    } else if (/^authz(\.ya?ml|\/.+\.ya?ml)$/.test(file.path)) {
      const lines = new LineCounter();
      const document = parseDocument(file.text, { lineCounter: lines });
      const list = isMap(document.contents) ? document.contents.get('authz_rules', true) : null;
      if (!isSeq(list)) continue;
      for (const item of list.items) {
        const rule = (item as { toJSON(): Omit<RawRule, 'source'> }).toJSON();
        const { line, col } = lines.linePos((item as { range: [number, number, number] }).range[0]);
        rules.push({ ...rule, source: `${file.path}:${line}:${col}` });
      }
    }
  }

  // Memoized only because minimatch compiles the pattern on every call; the answer is the same.
  const matchCache = new Map<string, boolean>();
  const matches = (fqn: string, pattern: string): boolean => {
    const key = `${pattern}\u0000${fqn}`;
    let hit = matchCache.get(key);
    if (hit === undefined) {
      hit = pattern === fqn || minimatch(fqn, pattern);
      matchCache.set(key, hit);
    }
    return hit;
  };

  const appliesTo = (rule: RawRule, principal: NaivePrincipal): boolean => {
    if (principal.kind === 'service') return (rule.services ?? []).includes(principal.name);
    if ((rule.users ?? []).includes(principal.name)) return true;
    return (rule.teams ?? []).some((team) => (teams.get(team) ?? []).includes(principal.name));
  };

  const grantingRules = (principal: NaivePrincipal, fqn: string, atMs: number): string[] => {
    if (enabled.get(fqn) !== true) return [];
    return rules
      .filter((rule) => appliesTo(rule, principal))
      .filter((rule) => rule.models.some((pattern) => matches(fqn, pattern)))
      .filter((rule) => rule.expires === undefined || atMs < Date.parse(rule.expires))
      .map((rule) => rule.source);
  };

  return {
    models: [...enabled.keys()],
    users,
    services,
    grantingRules,
    allowed: (principal, fqn, atMs) => grantingRules(principal, fqn, atMs).length > 0,
  };
}
