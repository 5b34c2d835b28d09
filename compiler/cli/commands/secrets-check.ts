import { parseDuration } from '../../../schemas/formats/duration.ts';
import { isSecretRefProblem, parseSecretRef } from '../../../schemas/formats/secret-ref.ts';
import type { SecretSource } from '../../../schemas/formats/secret-source.ts';
import { SecretError } from '../../../schemas/formats/secret-source.ts';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { analyzeFolder } from '../../io/analyze-folder.ts';
import { parse } from '../args.ts';
import { readVerifiedBundle } from '../bundle-input.ts';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { printJson } from '../output.ts';
import { requirePolicyFolder } from '../policies.ts';

/** One provider's secret field, as found in the policies or the bundle. */
interface Reference {
  provider: string;
  /** Where it was declared, for messages that must not repeat an unparsable value. */
  origin: string;
  text: string;
}

interface Result {
  ref: string;
  providers: string[];
  ok: boolean;
  reason?: SecretError['reason'];
  message?: string;
}

/**
 * `secrets check` reads root keys the way the gateway does, so it needs the runtime's secret
 * readers; the compiler never imports the runtime, so the composition root (bin/modelgate.js)
 * hands them in.
 */
export function secretsCheckCommand(secretSources: () => Promise<SecretSource[]>): Command {
  return {
    name: 'secrets check',
    summary: 'read every referenced provider root key with the ambient credentials',
    usage: `modelgate secrets check [--policies DIR | --bundle FILE --public-key PEM] [--timeout 10s] [--format text|json]

Reads each provider's secret reference (aws-ssm://, gcp-sm://, azure-kv://, env://, file://) the
way the gateway would, with this machine's credentials (AWS default provider chain, Google
Application Default Credentials, Azure DefaultAzureCredential), and prints one line per reference:
ok, or why not (not_found, access_denied, throttled, timeout, read_failed, malformed_ref).
Values are never printed. Exit 0 when every reference is readable, 1 otherwise.

  --policies DIR     the policy folder (default: policies)
  --bundle FILE      check the references in a signed bundle instead (needs --public-key)
  --public-key PEM   a trusted Ed25519 public key for --bundle (repeatable)
  --timeout T        per read, like 10s or 500ms (default: 10s)

Endpoint overrides (private endpoints, tests): AWS_ENDPOINT_URL_SSM or AWS_ENDPOINT_URL,
MODELGATE_GCP_SM_ENDPOINT, MODELGATE_AZURE_KV_URL_TEMPLATE; see docs/secrets/.`,
    async run(args) {
      const { values, json } = parse(args, {
        policies: { type: 'string' },
        bundle: { type: 'string' },
        'public-key': { type: 'string', multiple: true },
        timeout: { type: 'string' },
      });
      const timeoutMs = parseTimeout(values.timeout);
      let references: Reference[];
      if (typeof values.bundle === 'string') {
        if (typeof values.policies === 'string') throw new UsageError('use either --policies or --bundle, not both');
        references = await bundleReferences(values.bundle, (values['public-key'] as string[] | undefined) ?? []);
      } else {
        if (values['public-key'] !== undefined) throw new UsageError('--public-key goes with --bundle');
        references = await policyReferences(typeof values.policies === 'string' ? values.policies : 'policies');
      }

      const results = await checkAll(references, await secretSources(), timeoutMs);
      const ok = results.every((r) => r.ok);
      if (json) printJson({ ok, secrets: results });
      else {
        const width = Math.max(2, ...results.map((r) => (r.reason ?? 'ok').length));
        for (const r of results) {
          const head = `${(r.reason ?? 'ok').padEnd(width)}  ${r.ref}  (${r.providers.join(', ')})`;
          process.stdout.write(r.ok ? `${head}\n` : `${head}: ${r.message}\n`);
        }
        const readable = results.filter((r) => r.ok).length;
        process.stderr.write(
          results.length === 0
            ? 'no provider references a secret\n'
            : `${readable} of ${results.length} secret reference${results.length === 1 ? '' : 's'} readable\n`,
        );
      }
      return ok ? 0 : 1;
    },
  };
}

/** Every provider account's secret field, from the policy files (other policy errors do not stop this). */
async function policyReferences(dir: string): Promise<Reference[]> {
  await requirePolicyFolder(dir);
  // frozenLock: checking secrets never writes the identity lock.
  const analysis = await analyzeFolder(dir, { now: new Date(), frozenLock: true });
  if (hasErrors(analysis.diagnostics))
    process.stderr.write(`note: ${dir} has policy errors (run \`modelgate check\`); checking the secrets of the providers that loaded\n`);
  return analysis.set.providers.flatMap((doc) => (doc.data.secret === undefined ? [] : [{ provider: doc.data.name, origin: doc.file, text: doc.data.secret }]));
}

async function bundleReferences(file: string, keyPaths: string[]): Promise<Reference[]> {
  if (keyPaths.length === 0) throw new UsageError('--bundle needs --public-key');
  // Expiry is not checked: an expired bundle's references are still worth checking.
  const { payload } = await readVerifiedBundle(file, keyPaths);
  return payload.providers.flatMap((p) => (p.secret === undefined ? [] : [{ provider: p.name, origin: `${file}: provider ${p.name}`, text: p.secret }]));
}

/** Reads each distinct reference once, all concurrently; results in first-seen order. */
async function checkAll(references: readonly Reference[], sources: readonly SecretSource[], timeoutMs: number): Promise<Result[]> {
  const bySource = new Map(sources.map((s) => [s.scheme as string, s]));
  const grouped = new Map<string, Reference[]>();
  for (const r of references) grouped.set(r.text, [...(grouped.get(r.text) ?? []), r]);
  return Promise.all(
    [...grouped.values()].map(async (group): Promise<Result> => {
      const first = group[0] as Reference;
      const providers = group.map((r) => r.provider);
      const parsed = parseSecretRef(first.text);
      if (isSecretRefProblem(parsed)) {
        // The text may be a pasted key: show where it is, never what it is.
        return { ref: `<unparsable reference in ${first.origin}>`, providers, ok: false, reason: 'malformed_ref', message: `${parsed.code} ${parsed.message}` };
      }
      const source = bySource.get(parsed.scheme);
      if (source === undefined)
        return { ref: first.text, providers, ok: false, reason: 'unsupported_scheme', message: `no secret source for ${parsed.scheme}://` };
      try {
        // The value is read and dropped here; only whether it could be read is reported.
        await source.read(parsed, AbortSignal.timeout(timeoutMs));
        return { ref: first.text, providers, ok: true };
      } catch (error) {
        if (error instanceof SecretError) return { ref: first.text, providers, ok: false, reason: error.reason, message: error.message };
        return { ref: first.text, providers, ok: false, reason: 'read_failed', message: `reading the ${parsed.scheme}:// secret failed` };
      }
    }),
  );
}

// A read timeout is a whole, positive count of seconds or milliseconds: the narrow form of the
// shared duration grammar.
function parseTimeout(text: string | undefined): number {
  if (text === undefined) return 10_000;
  const ms = /^[1-9][0-9]*(ms|s)$/.test(text) ? parseDuration(text) : null;
  if (ms === null) throw new UsageError('--timeout must be like 10s or 500ms');
  return ms;
}
