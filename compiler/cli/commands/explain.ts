import { buildDecisionIndex, type DenyReason } from '../../../schemas/bundle/decision-index.ts';
import { buildPayload } from '../../bundle/build-payload.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { didYouMean, withSuggestion } from '../../diagnostics/suggest.ts';
import { parsePrincipal } from '../../resolve/principal.ts';
import { parse, parseInstant } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, policyErrors, UsageError } from '../errors.ts';
import { printResult } from '../output.ts';
import { analyzePolicies, POLICY_OPTIONS } from '../policies.ts';
import { explainLimits, explainPrice, limitTextLines } from './explain-limits.ts';

const REASONS: Record<DenyReason, string> = {
  unknown_model: 'no account declares this model',
  model_disabled: 'the model is disabled, so nobody may use it',
  no_grant: 'no rule grants it to this principal',
  grant_expired: 'every rule that granted it has expired',
};

export const explainCommand: Command = {
  name: 'explain',
  summary: 'say which rule grants PRINCIPAL the use of MODEL, or why not, and which limits apply',
  usage: `modelgate explain PRINCIPAL MODEL [--at TIME] [--policies DIR] [--format text|json]

Compiles the policies and answers with the same index the gateway uses.
PRINCIPAL is a username or service:NAME; MODEL is account/model. Also lists the limits
(limits/*.yaml) on the principal and model, with how each names the principal (user, team,
service, or one of its keys: requests with that key only), and the model's price.

  --at TIME   decide at this instant (RFC 3339 or a duration like 30d from now; default: now)

Exit codes: 0 ALLOW, 1 DENY (or policy errors, or an unknown principal), 2 usage or environment
error, so scripts can test access by the exit code.`,
  async run(args) {
    const { values, positionals, json } = parse(args, { ...POLICY_OPTIONS, at: { type: 'string' } }, 2);
    const [principalText, fqn] = positionals;
    if (principalText === undefined || fqn === undefined) throw new UsageError('PRINCIPAL and MODEL are required');
    const dir = values.policies as string;
    const now = new Date();
    const at = values.at === undefined ? now : parseInstant(values.at, now, '--at');
    const analysis = await analyzePolicies(dir, { now: at, frozenLock: true });
    const errors = analysis.diagnostics.filter((d) => d.code !== 'MG_LOCK_OUT_OF_DATE');
    if (hasErrors(errors) || analysis.model === null) throw policyErrors(errors, dir);
    const model = analysis.model;
    const payload = buildPayload(model, { serial: 1, revision: 'explain', createdAt: at });
    const { kind, name } = parsePrincipal(principalText);
    const principalIndex = payload.principals.findIndex((p) => p.kind === kind && p.name === name);
    if (principalIndex < 0) {
      const known = kind === 'user' ? model.directory.users.keys() : model.directory.services.keys();
      const message = withSuggestion(`${kind} "${name}" is not in the directory`, didYouMean(name, known));
      throw failure(kind === 'user' ? 'MG_UNKNOWN_USER' : 'MG_UNKNOWN_SERVICE', message, { show: 'code-in-json' });
    }

    const decision = buildDecisionIndex(payload).decide(principalIndex, fqn, at.getTime());
    const rawRules = analysis.set.authz.flatMap((doc) => doc.data.authz_rules);
    const related = model.rules
      .map((rule, i) => ({ rule, raw: rawRules[i]! }))
      .filter(({ rule }) => rule.models.includes(fqn) || rule.disabledModels.includes(fqn))
      .map(({ rule, raw }) => {
        const via: string[] = [];
        if (kind === 'user' && raw.users?.includes(name)) via.push(`user ${name}`);
        if (kind === 'service' && raw.services?.includes(name)) via.push(`service ${name}`);
        if (kind === 'user') for (const team of raw.teams ?? []) if (model.directory.teams.get(team)?.includes(name)) via.push(`team ${team}`);
        const expired = rule.expires !== undefined && Date.parse(rule.expires) <= at.getTime();
        return { source: `${rule.source}`, applies: via.length > 0, via, expires: rule.expires ?? null, expired, description: rule.description ?? null };
      });

    const result = {
      ok: true,
      principal: principalText,
      model: fqn,
      at: at.toISOString(),
      allowed: decision.allowed,
      granted_by: decision.allowed ? decision.source : null,
      reason: decision.allowed ? null : decision.reason,
      rules: related,
      limits: explainLimits(payload, model, principalIndex, fqn),
      price: explainPrice(model, fqn),
    };
    const lines = [`${decision.allowed ? 'ALLOW' : 'DENY'} ${principalText} -> ${fqn} at ${result.at}`];
    if (decision.allowed) lines.push(`  granted by ${decision.source}`);
    else lines.push(`  ${REASONS[decision.reason]}`);
    for (const r of related) {
      const state = r.expired ? `expired ${r.expires}` : r.expires !== null ? `until ${r.expires}` : 'no expiry';
      const who = r.applies ? `applies via ${r.via.join(', ')}` : 'does not name this principal';
      lines.push(`  rule ${r.source}: ${who}; ${state}${r.description ? ` ("${r.description}")` : ''}`);
    }
    lines.push(...limitTextLines(result.limits, result.price));
    printResult(json, result, lines.join('\n') + '\n');
    // Scripts test access by exit code: a DENY is an answer that says no.
    return decision.allowed ? 0 : 1;
  },
};
