// gateway.yaml's model aliases: names that tools send (gpt-4o-mini, claude-sonnet-4-5), each
// standing for one model. An alias must not be a model's own name (account/model): a request for
// that model would silently reach another one. It must point to a declared, enabled model: an
// alias that can only ever be refused is a mistake in the policy, not a decision.
import type { GatewayFile } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { Doc } from '../load/policy-set.ts';
import type { Catalog } from './providers.ts';

/** Checks every alias of gateway.yaml against the model catalog. */
export function checkAliases(doc: Doc<GatewayFile> | null, catalog: Catalog): Diagnostic[] {
  if (doc === null) return [];
  const out: Diagnostic[] = [];
  for (const [alias, fqn] of Object.entries(doc.data.aliases ?? {})) {
    const at = doc.locate(['aliases', alias]);
    if (catalog.models.has(alias)) {
      out.push(
        diagnostic(
          'MG_ALIAS_SHADOWS_MODEL',
          doc.file,
          at,
          `alias "${alias}" is the name of a declared model`,
          'a request for that model would go to another one; pick an alias that is not account/model of any model',
        ),
      );
      continue;
    }
    const model = catalog.models.get(fqn);
    if (model === undefined) {
      const message = withSuggestion(`alias "${alias}" points to ${fqn}, which no provider file declares`, didYouMean(fqn, catalog.models.keys()));
      out.push(diagnostic('MG_ALIAS_UNKNOWN_MODEL', doc.file, at, message));
    } else if (!model.enabled) {
      out.push(
        diagnostic(
          'MG_ALIAS_MODEL_DISABLED',
          doc.file,
          at,
          `alias "${alias}" points to ${fqn}, which is disabled`,
          'every request through this alias would be refused; point it to an enabled model or remove it',
        ),
      );
    }
  }
  return out;
}
