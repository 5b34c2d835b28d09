// The compiled decision index against a naive evaluator of the raw YAML, on generated policy sets:
// every principal x every model (plus undeclared ones) x times just before, at and after each
// expiry. Any disagreement is a bug in the compiler's index, the runtime's lookup, or the naive
// reading of the policy format.
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../compiler/bundle/build-payload.ts';
import { analyzeFiles } from '../../compiler/io/analyze-folder.ts';
import { buildDecisionIndex } from '../../schemas/bundle/decision-index.ts';
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { type GenerateOptions, generatePolicies } from '../bench/generate-policies.ts';
import { naiveEvaluator } from '../support/naive-evaluator.ts';

const SHAPES: Omit<GenerateOptions, 'seed'>[] = [
  { accounts: 3, modelsPerAccount: 5, users: 25, teams: 5, services: 4, rules: 20, keys: 3, disabledRate: 0.15, expiringRate: 0.4, rulesPerFile: 7 },
  { accounts: 5, modelsPerAccount: 8, users: 40, teams: 8, services: 6, rules: 40, keys: 3, disabledRate: 0.1, expiringRate: 0.3, rulesPerFile: 15 },
  { accounts: 2, modelsPerAccount: 12, users: 15, teams: 2, services: 2, rules: 30, keys: 0, disabledRate: 0.25, expiringRate: 0.6, rulesPerFile: 30 },
];
const SEEDS = [1, 2, 3, 7, 42, 2026];

interface Scenario {
  name: string;
  errors: string[];
  warnings: number;
  payload: BundlePayload;
  naive: ReturnType<typeof naiveEvaluator>;
  times: number[];
  fqns: string[];
  pairs: number;
}

async function scenario(seed: number, shape: Omit<GenerateOptions, 'seed'>): Promise<Scenario> {
  const generated = generatePolicies({ seed, ...shape });
  const analysis = await analyzeFiles(generated.files, { now: generated.now });
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`);
  if (analysis.model === null) throw new Error(`seed ${seed} did not compile:\n${errors.join('\n')}`);
  const payload = buildPayload(analysis.model, { serial: 1, revision: `seed-${seed}`, createdAt: generated.now });
  const naive = naiveEvaluator(generated.files);
  const times = [generated.now.getTime(), Date.parse('2031-01-01T00:00:00Z')];
  for (const expiry of generated.expiries) {
    const at = Date.parse(expiry);
    times.push(at - 1, at, at + 1);
  }
  // Undeclared FQNs: an unknown model of a real account, and an unknown account.
  const fqns = [...naive.models, `${naive.models[0]!.split('/')[0]}/no-such-model`, 'no-such-account/gpt-0'];
  return {
    name: `seed ${seed}, ${shape.users} users, ${naive.models.length} models, ${shape.rules} rules`,
    errors,
    warnings: analysis.diagnostics.length - errors.length,
    payload,
    naive,
    times,
    fqns,
    pairs: payload.principals.length * fqns.length * times.length,
  };
}

const scenarios = await Promise.all(
  SEEDS.flatMap((seed, i) => [scenario(seed, SHAPES[i % SHAPES.length]!), scenario(seed + 1000, SHAPES[(i + 1) % SHAPES.length]!)]),
);
const totalPairs = scenarios.reduce((sum, s) => sum + s.pairs, 0);

describe('the compiled decision index against the naive evaluator', () => {
  it(`checks at least several thousand principal x model x time triples (${totalPairs} in ${scenarios.length} generated sets)`, () => {
    expect(totalPairs).toBeGreaterThan(5000);
  });

  describe.each(scenarios)('when the policy set is $name', (s) => {
    it('compiles with no error', () => {
      expect(s.errors).toEqual([]);
    });

    it('lists exactly the directory principals and declared models', () => {
      expect(
        s.payload.principals
          .filter((p) => p.kind === 'user')
          .map((p) => p.name)
          .sort(),
      ).toEqual([...s.naive.users].sort());
      expect(
        s.payload.principals
          .filter((p) => p.kind === 'service')
          .map((p) => p.name)
          .sort(),
      ).toEqual([...s.naive.services].sort());
      expect(s.payload.models.map((m) => m.fqn).sort()).toEqual([...s.naive.models].sort());
    });

    it(`agrees on every principal x model x time (${s.pairs} triples), with the granting rule and the deny reason`, () => {
      const index = buildDecisionIndex(s.payload);
      const mismatches: string[] = [];
      let allowed = 0;
      let expired = 0;
      s.payload.principals.forEach((p, principal) => {
        const who = { kind: p.kind, name: p.name };
        for (const at of s.times) {
          for (const fqn of s.fqns) {
            const decision = index.decide(principal, fqn, at);
            const granting = s.naive.grantingRules(who, fqn, at);
            const where = `${p.kind}:${p.name} ${fqn} at ${new Date(at).toISOString()}`;
            if (decision.allowed !== granting.length > 0) {
              mismatches.push(`${where}: index ${JSON.stringify(decision)}, naive ${JSON.stringify(granting)}`);
            } else if (decision.allowed) {
              allowed++;
              if (!granting.includes(decision.source)) mismatches.push(`${where}: index cites ${decision.source}, naive grants through ${granting.join(' ')}`);
            } else {
              const declared = s.naive.models.includes(fqn);
              const enabled = declared && s.payload.models[index.modelByFqn.get(fqn)!]!.enabled;
              const everGranted = s.naive.grantingRules(who, fqn, -Infinity).length > 0;
              const reason = !declared ? 'unknown_model' : !enabled ? 'model_disabled' : everGranted ? 'grant_expired' : 'no_grant';
              if (reason === 'grant_expired') expired++;
              if (decision.reason !== reason) mismatches.push(`${where}: index says ${decision.reason}, expected ${reason}`);
            }
          }
          const listed = index.allowedModels(principal, at);
          const expected = s.payload.models.map((m) => m.fqn).filter((fqn) => s.naive.allowed(who, fqn, at));
          if (JSON.stringify(listed) !== JSON.stringify(expected))
            mismatches.push(`${p.kind}:${p.name} at ${new Date(at).toISOString()}: allowedModels ${listed.join(',')} vs ${expected.join(',')}`);
        }
      });
      expect(mismatches.slice(0, 20)).toEqual([]);
      // The generated set exercises both answers and lapsed grants, or the comparison proves little.
      expect(allowed).toBeGreaterThan(0);
      expect(expired).toBeGreaterThan(0);
      expect(allowed).toBeLessThan(s.pairs);
    });
  });
});
