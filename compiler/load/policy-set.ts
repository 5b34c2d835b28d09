// Turns the files of a policy folder into typed, positioned documents (or diagnostics).
import type { AuthzFile, DirectoryFile, GatewayFile, IdentityLock, KeyRecord, LimitsFile, ProviderAccount } from '../../schemas/types.generated.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import { commentSecrets } from './comment-secrets.ts';
import { type ParsedYaml, parseYaml } from './parse-yaml.ts';
import { baseName, classify, type DocumentKind, type SourceFile } from './source-file.ts';
import { validateSchema } from './validate-schema.ts';

/** A schema-valid document: its typed data plus the positions of its nodes. */
export interface Doc<T> extends ParsedYaml {
  data: T;
}

export interface PolicySet {
  gateway: Doc<GatewayFile> | null;
  providers: Doc<ProviderAccount>[];
  authz: Doc<AuthzFile>[];
  limits: Doc<LimitsFile>[];
  directory: Doc<DirectoryFile> | null;
  keys: Doc<KeyRecord>[];
  lock: Doc<IdentityLock> | null;
  /** Names of provider files (and the directory) that failed to load: their own diagnostics cover them,
   * so checks do not pile "unknown account" errors on every rule that names them. */
  unloaded: { accounts: Set<string>; directory: boolean };
}

/** Parses and schema-validates every file. Files with problems are left out of the set and reported. */
export function loadPolicySet(files: readonly SourceFile[]): { set: PolicySet; diagnostics: Diagnostic[] } {
  const set: PolicySet = {
    gateway: null,
    providers: [],
    authz: [],
    limits: [],
    directory: null,
    keys: [],
    lock: null,
    unloaded: { accounts: new Set(), directory: false },
  };
  const diagnostics: Diagnostic[] = [];
  let sawGateway = false;
  const singletons = new Map<DocumentKind, string>();
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sorted) {
    const kind = classify(file.path);
    if (kind === null) {
      if (/\.ya?ml$/.test(file.path)) {
        diagnostics.push(
          diagnostic(
            'MG_UNKNOWN_FILE',
            file.path,
            { line: 1, col: 1 },
            'modelgate does not read this file',
            'providers go in providers/, rules in authz.yaml or authz/, limits in limits/, keys in keys/; see docs/policy-reference.md',
          ),
        );
      }
      continue;
    }
    if (kind === 'gateway') sawGateway = true;
    diagnostics.push(...commentSecrets(file));
    // gateway, directory and lock are one file each: a .yml beside the .yaml must not silently win.
    if (kind === 'gateway' || kind === 'directory' || kind === 'lock') {
      const first = singletons.get(kind);
      if (first !== undefined) {
        diagnostics.push(
          diagnostic(
            'MG_DUPLICATE_FILE',
            file.path,
            { line: 1, col: 1 },
            `${first} and ${file.path} both exist; modelgate reads one ${kind} file`,
            `merge them into ${first} and delete ${file.path}`,
          ),
        );
        continue;
      }
      singletons.set(kind, file.path);
    }
    const parsed = parseYaml(file.path, file.text);
    diagnostics.push(...parsed.diagnostics);
    const problems = parsed.doc === null ? [] : validateSchema(kind, parsed.doc);
    diagnostics.push(...problems);
    if (parsed.doc === null || problems.length > 0) {
      if (kind === 'provider') set.unloaded.accounts.add(baseName(file.path));
      if (kind === 'directory') set.unloaded.directory = true;
      continue;
    }
    const doc = parsed.doc;
    switch (kind) {
      case 'provider':
        set.providers.push(doc as Doc<ProviderAccount>);
        break;
      case 'authz':
        set.authz.push(doc as Doc<AuthzFile>);
        break;
      case 'limits':
        set.limits.push(doc as Doc<LimitsFile>);
        break;
      case 'key':
        set.keys.push(doc as Doc<KeyRecord>);
        break;
      case 'directory':
        set.directory = doc as Doc<DirectoryFile>;
        break;
      case 'gateway':
        set.gateway = doc as Doc<GatewayFile>;
        break;
      case 'lock':
        set.lock = doc as Doc<IdentityLock>;
        break;
    }
  }
  if (!sawGateway) {
    diagnostics.push(
      diagnostic(
        'MG_GATEWAY_MISSING',
        'gateway.yaml',
        { line: 1, col: 1 },
        'gateway.yaml is missing; it must name the audience (the gateway fleet this policy is for)',
        'create gateway.yaml with a line like `audience: prod-gateway`',
      ),
    );
  }
  return { set, diagnostics };
}
