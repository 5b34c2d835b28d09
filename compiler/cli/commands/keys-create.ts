import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mintApiKey } from '../../../schemas/formats/api-key.ts';
import { MAX_KEY_LIFETIME_MS, parseBoundedDuration } from '../../../schemas/formats/duration.ts';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import type { KeyRecord } from '../../../schemas/types.generated.ts';
import { didYouMean, withSuggestion } from '../../diagnostics/suggest.ts';
import { parsePrincipal } from '../../resolve/principal.ts';
import { parse, parseInstant, requireString } from '../args.ts';
import type { Command } from '../command.ts';
import { EnvironmentError, failure, UsageError } from '../errors.ts';
import { printJson } from '../output.ts';
import { analyzePolicies, POLICY_OPTIONS } from '../policies.ts';

export const keysCreateCommand: Command = {
  name: 'keys create',
  summary: 'issue an API key: write keys/<id>.yaml (hash only), print the key once',
  usage: `modelgate keys create --principal NAME [--expires 90d|TIME] [--description TEXT] [--policies DIR] [--format text|json]

Mints a key mg_<id>_<secret>_<crc>, writes keys/<id>.yaml holding only its SHA-256, and prints
the key once on stdout. It is never stored; if it is lost, create another and revoke this one
(\`modelgate keys revoke ID\`).

  --principal NAME   a username, or service:NAME for a service account
  --expires WHEN     90d, 12h, 30m from now, or an RFC 3339 time; in the future and at most 730d
                     ahead (default: gateway.yaml keys.default_expiry, else 90d)`,
  async run(args) {
    const { values, json } = parse(args, { ...POLICY_OPTIONS, principal: { type: 'string' }, expires: { type: 'string' }, description: { type: 'string' } });
    const dir = values.policies as string;
    const principal = requireString(values.principal, '--principal');
    const now = new Date();
    const analysis = await analyzePolicies(dir, { now, frozenLock: true });
    const expires = keyExpiry(values.expires, analysis.set.gateway?.data.keys?.default_expiry, now);
    const directory = analysis.directory;
    const { kind, name } = parsePrincipal(principal);
    const known = kind === 'user' ? directory.users : directory.services;
    if (!known.has(name)) {
      throw failure('MG_KEY_UNKNOWN_PRINCIPAL', withSuggestion(`${kind} "${name}" is not in the directory`, didYouMean(name, known.keys())));
    }

    const minted = mintApiKey();
    const record: KeyRecord = { id: minted.id, principal, sha256: minted.sha256, created: toSecond(now) };
    record.expires = toSecond(expires);
    if (typeof values.description === 'string') record.description = values.description;
    const keysDir = join(dir, 'keys');
    const path = join(keysDir, `${minted.id}.yaml`);
    await mkdir(keysDir, { recursive: true });
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      throw new EnvironmentError(`${path} already exists`);
    await writeFileAtomic(path, stringify(record), 0o644, { exclusive: true });

    if (json) printJson({ ok: true, id: minted.id, principal, key: minted.key, record: path, expires: record.expires });
    else {
      process.stderr.write(
        `wrote ${path} (holds only the key's SHA-256); commit it and publish a new bundle.\nThe key is shown once, now. Store it in the caller's secret store:\n`,
      );
      process.stdout.write(`${minted.key}\n`);
    }
    return 0;
  },
};

// Every key expires: a leaked key must stop working on its own. Past expiries would mint a key
// that never works; expiries years ahead are keys nobody will remember to rotate.
function keyExpiry(flag: string | undefined, policyDefault: string | undefined, now: Date): Date {
  if (flag === undefined) {
    const ms = parseBoundedDuration(policyDefault ?? DEFAULT_KEY_EXPIRY, MAX_KEY_LIFETIME_MS);
    // gateway.yaml passed the schema (format key-lifetime), so the default is bounded.
    return new Date(now.getTime() + (ms ?? 0));
  }
  const expires = parseInstant(flag, now, '--expires');
  if (expires.getTime() <= now.getTime()) throw new UsageError(`--expires ${flag} is not in the future: the key would never work`);
  if (expires.getTime() > now.getTime() + MAX_KEY_LIFETIME_MS)
    throw new UsageError(`--expires ${flag} is more than ${MAX_KEY_LIFETIME_MS / 86_400_000} days ahead; issue a shorter-lived key and rotate it`);
  return expires;
}

const DEFAULT_KEY_EXPIRY = '90d';

// Key records hold whole seconds: what people read and write in YAML.
function toSecond(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
