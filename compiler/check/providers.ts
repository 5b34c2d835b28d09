// Provider accounts: names, duplicates, secret references, and pasted credentials.

import { containsKnownKeyShape, isSecretRefProblem, parseSecretRef } from '../../schemas/formats/secret-ref.ts';
import type { ModelPricing, ProviderAccount } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import type { JsonPath } from '../load/parse-yaml.ts';
import type { Doc } from '../load/policy-set.ts';
import { baseName } from '../load/source-file.ts';
import { checkUrl } from './urls.ts';

export interface CatalogModel {
  fqn: string;
  account: string;
  name: string;
  upstream: string;
  enabled: boolean;
  /** Price per million tokens, when the provider file declares it (money budgets need it). */
  pricing?: ModelPricing;
}

export interface CatalogAccount {
  doc: Doc<ProviderAccount>;
  models: Map<string, CatalogModel>;
}

/** Every declared account and model, after the provider checks. */
export interface Catalog {
  accounts: Map<string, CatalogAccount>;
  /** All declared models by FQN, in account then declaration order. */
  models: Map<string, CatalogModel>;
}

/** Checks provider accounts and builds the model catalog from them. */
export function checkProviders(docs: readonly Doc<ProviderAccount>[]): { catalog: Catalog; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const accounts = new Map<string, CatalogAccount>();
  for (const doc of docs) {
    const account = doc.data;
    const expectedName = baseName(doc.file);
    if (account.name !== expectedName) {
      diagnostics.push(
        diagnostic(
          'MG_ACCOUNT_NAME_MISMATCH',
          doc.file,
          doc.locate(['name']),
          `account "${account.name}" is declared in ${doc.file}; the file must be named ${account.name}.yaml`,
          `rename the file or set name: ${expectedName}`,
        ),
      );
    }
    const previous = accounts.get(account.name);
    if (previous !== undefined) {
      diagnostics.push(
        diagnostic('MG_DUPLICATE_ACCOUNT', doc.file, doc.locate(['name']), `account "${account.name}" is already declared in ${previous.doc.file}`),
      );
      continue;
    }
    diagnostics.push(...checkSecrets(doc));
    if (account.base_url !== undefined) diagnostics.push(...checkUrl(account.base_url, 'base_url', doc.file, doc.locate(['base_url']), { noQuery: true }));
    const models = new Map<string, CatalogModel>();
    account.models.forEach((model, i) => {
      if (models.has(model.name)) {
        diagnostics.push(
          diagnostic('MG_DUPLICATE_MODEL', doc.file, doc.locate(['models', i, 'name']), `model "${model.name}" is declared twice in account "${account.name}"`),
        );
        return;
      }
      const upstream = account.type === 'azure-openai' ? (model.deployment ?? model.name) : (model.upstream_name ?? model.name);
      const entry: CatalogModel = { fqn: `${account.name}/${model.name}`, account: account.name, name: model.name, upstream, enabled: model.enabled !== false };
      if (model.pricing !== undefined) entry.pricing = model.pricing;
      models.set(model.name, entry);
    });
    accounts.set(account.name, { doc, models });
  }
  const all = new Map<string, CatalogModel>();
  for (const name of [...accounts.keys()].sort()) {
    for (const model of accounts.get(name)!.models.values()) all.set(model.fqn, model);
  }
  return { catalog: { accounts, models: all }, diagnostics };
}

// The value is never part of a message: it may be a live key.
function checkSecrets(doc: Doc<ProviderAccount>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { secret, type } = doc.data;
  if (secret !== undefined) {
    const parsed = parseSecretRef(secret);
    if (isSecretRefProblem(parsed)) out.push(diagnostic(parsed.code, doc.file, doc.locate(['secret']), parsed.message, parsed.hint));
  } else if (type !== 'mock') {
    out.push(diagnostic('MG_SCHEMA_MISSING_FIELD', doc.file, doc.locate([]), 'the provider account needs a secret reference'));
  }
  walkStrings(doc.data, [], (value, path) => {
    if (path[0] === 'secret') return;
    if (containsKnownKeyShape(value)) {
      out.push(
        diagnostic(
          'MG_SECRET_LITERAL',
          doc.file,
          doc.locate(path),
          `"${path.join('.')}" holds what looks like a credential`,
          'never put keys in policy files: rotate it and reference it through the secret field',
        ),
      );
    }
  });
  return out;
}

function walkStrings(value: unknown, path: JsonPath, visit: (value: string, path: JsonPath) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value))
    value.forEach((item, i) => {
      walkStrings(item, [...path, i], visit);
    });
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) walkStrings(item, [...path, key], visit);
  }
}
