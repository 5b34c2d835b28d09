// The names a caller may send for a model: its FQN (account/model) or an alias from gateway.yaml,
// both looked up in maps built at activation. And the 404 for a bare name ("gpt-4o-mini", what
// many tools send): it explains the account/model form and, when exactly one enabled model has
// that name, suggests it.
import type { BundlePayload } from '../../schemas/types.generated.ts';
import { bounded } from '../audit/audit-line.ts';

export interface ModelNames {
  /** Alias -> FQN. */
  aliases: ReadonlyMap<string, string>;
  /** Name after the account prefix -> the one enabled model's FQN, or null when several share it. */
  bare: ReadonlyMap<string, string | null>;
}

/** Builds the alias and bare-name maps of a verified payload. */
export function indexModelNames(payload: Pick<BundlePayload, 'models' | 'aliases'>): ModelNames {
  const aliases = new Map<string, string>();
  for (const alias of payload.aliases ?? []) {
    const model = payload.models[alias.model];
    if (model !== undefined) aliases.set(alias.name, model.fqn);
  }
  const bare = new Map<string, string | null>();
  for (const model of payload.models) {
    if (!model.enabled) continue;
    const name = model.fqn.slice(model.fqn.indexOf('/') + 1);
    bare.set(name, bare.has(name) ? null : model.fqn);
  }
  return { aliases, bare };
}

/**
 * The 404 message for a name that is neither an FQN nor an alias, or null for the table's
 * message (a name that has the account/model form). The caller's name is bounded and quoted.
 */
export function unknownNameMessage(names: ModelNames, name: string): string | null {
  if (name.includes('/')) return null;
  const quoted = JSON.stringify(bounded(name));
  const only = names.bare.get(name);
  const hint = typeof only === 'string' ? ` Did you mean "${only}"?` : '';
  return `no such model ${quoted}: models are named account/model (GET /v1/models lists yours).${hint}`;
}
