// API key records: unique ids, file names, owners that exist, expiry.
import type { KeyRecord } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import { didYouMean, withSuggestion } from '../diagnostics/suggest.ts';
import type { Doc } from '../load/policy-set.ts';
import { baseName } from '../load/source-file.ts';
import type { DirectorySnapshot } from '../resolve/directory.ts';
import { parsePrincipal } from '../resolve/principal.ts';
import { bundleInstant, UNREPRESENTABLE_HINT } from './instant.ts';

export interface ResolvedKey {
  record: KeyRecord;
  kind: 'user' | 'service';
  /** username or service name */
  name: string;
}

/** Checks API key records (file name, unique id, owner, expiry) and resolves each owner. */
export function checkKeys(
  docs: readonly Doc<KeyRecord>[],
  directory: DirectorySnapshot,
  now: Date,
  unloadedDirectory = false,
): { keys: ResolvedKey[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const keys: ResolvedKey[] = [];
  const seen = new Map<string, string>();
  for (const doc of docs) {
    const record = doc.data;
    if (record.id !== baseName(doc.file)) {
      diagnostics.push(
        diagnostic(
          'MG_KEY_FILE_NAME_MISMATCH',
          doc.file,
          doc.locate(['id']),
          `key "${record.id}" is stored in ${doc.file}; the file must be named keys/${record.id}.yaml`,
        ),
      );
    }
    const previous = seen.get(record.id);
    if (previous !== undefined) {
      diagnostics.push(diagnostic('MG_DUPLICATE_KEY_ID', doc.file, doc.locate(['id']), `key id "${record.id}" is already used by ${previous}`));
      continue;
    }
    seen.set(record.id, doc.file);
    const { kind, name } = parsePrincipal(record.principal);
    const known = kind === 'user' ? directory.users.has(name) : directory.services.has(name);
    if (!known && unloadedDirectory) continue;
    if (!known) {
      const candidates = kind === 'user' ? directory.users.keys() : directory.services.keys();
      const why = directory.explainMissing?.(kind, name);
      diagnostics.push(
        diagnostic(
          why?.code ?? 'MG_KEY_UNKNOWN_PRINCIPAL',
          doc.file,
          doc.locate(['principal']),
          withSuggestion(`key "${record.id}" belongs to ${kind} "${name}", who ${why?.reason ?? 'is not in the directory'}`, didYouMean(name, candidates)),
          why?.hint ?? 'delete the key record if its owner has left',
        ),
      );
      continue;
    }
    if (record.expires !== undefined && bundleInstant(record.expires) === null) {
      diagnostics.push(
        diagnostic(
          'MG_SCHEMA_INVALID_VALUE',
          doc.file,
          doc.locate(['expires']),
          '"expires" is not an instant a bundle can hold (a leap second, or past year 9999)',
          UNREPRESENTABLE_HINT,
        ),
      );
      continue;
    }
    if (record.expires === undefined && record.revoked !== true) {
      diagnostics.push(
        diagnostic(
          'MG_KEY_NO_EXPIRY',
          doc.file,
          doc.locate(['id']),
          `key "${record.id}" never expires`,
          'add `expires:` to the record (a leaked key should not work forever), or issue a new key with `modelgate keys create`, which sets one by default',
        ),
      );
    }
    if (record.expires !== undefined && Date.parse(record.expires) <= now.getTime() && record.revoked !== true) {
      diagnostics.push(
        diagnostic(
          'MG_KEY_EXPIRED',
          doc.file,
          doc.locate(['expires']),
          `key "${record.id}" expired at ${record.expires}`,
          'delete the record or issue a new key with `modelgate keys create`',
        ),
      );
    }
    keys.push({ record, kind, name });
  }
  // Stryker disable next-line all: equivalent, the loader hands key files over sorted by path, and a kept key's file is keys/<id>.yaml
  keys.sort((a, b) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0));
  return { keys, diagnostics };
}
