import { readFile } from 'node:fs/promises';
import { createdInFuture, MAX_CLOCK_SKEW_MS } from '../../../schemas/bundle/expiry.ts';
import { readPrivateKey } from '../../../schemas/formats/signing-keys.ts';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { compileBundle } from '../../bundle/compile-bundle.ts';
import { parse, parseInstant, requireString } from '../args.ts';
import type { Command } from '../command.ts';
import { policyErrors, UsageError } from '../errors.ts';
import { diagnosticsJson, printDiagnostics, printResult } from '../output.ts';
import { analyzePolicies, POLICY_OPTIONS } from '../policies.ts';

export const compileCommand: Command = {
  name: 'compile',
  summary: 'compile the policies into a signed bundle',
  usage: `modelgate compile [--policies DIR] --out FILE --signing-key PEM [options]

Checks the policies (like \`check\`), builds the decision index and writes a DSSE envelope
signed with the Ed25519 key. Nothing is written when there is any error.

  --policies DIR       the policy folder (default: policies)
  --out FILE           where to write the bundle
  --signing-key PEM    Ed25519 private key (from \`modelgate keygen\`)
  --serial N           bundle serial; default: max(unix time of created_at, serial in FILE + 1),
                       so serials never go backwards
  --revision REV       default: git HEAD of the repository holding the policy folder (+ "-dirty")
  --created-at TIME    default: now (RFC 3339); fixing it makes the output reproducible. A time
                       more than 5 minutes ahead of the clock is refused: its serial would
                       become every gateway's floor (see docs/publishing.md)
  --allow-future-created-at
                       accept a --created-at in the future anyway (tests of expiry only; never
                       publish such a bundle: verify, publish and gateways refuse it)
  --frozen-lock        unpinned identities are errors (CI)
  --allow-stale-lock   with the GitHub directory: when GitHub cannot be reached, compile from
                       identities.lock.yaml as last resolved instead of refusing (exit 2)
  --format json        summary and diagnostics as JSON`,
  async run(args) {
    const { values, json } = parse(args, {
      ...POLICY_OPTIONS,
      out: { type: 'string' },
      'signing-key': { type: 'string' },
      serial: { type: 'string' },
      revision: { type: 'string' },
      'created-at': { type: 'string' },
      'allow-stale-lock': { type: 'boolean' },
      'allow-future-created-at': { type: 'boolean' },
    });
    const dir = values.policies as string;
    const out = requireString(values.out, '--out');
    const keyPath = requireString(values['signing-key'], '--signing-key');
    const now = new Date();
    const createdAt = values['created-at'] === undefined ? now : parseInstant(values['created-at'], now, '--created-at');
    if (createdInFuture({ created_at: createdAt.toISOString() }, now.getTime()) && values['allow-future-created-at'] !== true) {
      throw new UsageError(
        `--created-at ${createdAt.toISOString()} is more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes in the future: its serial would become every gateway's serial floor and refuse every correctly dated bundle after it (pass --allow-future-created-at only for a bundle that is never published)`,
      );
    }
    const signingKey = await readPrivateKey(keyPath);
    const serial = values.serial === undefined ? await nextSerial(out, createdAt) : parseSerial(values.serial);

    const { analysis, bundle } = await compileBundle(dir, {
      signingKey,
      serial,
      createdAt,
      frozenLock: values['frozen-lock'] === true,
      allowStaleLock: values['allow-stale-lock'] === true,
      analyze: analyzePolicies,
      ...(values.revision === undefined ? {} : { revision: values.revision }),
    });
    if (bundle === null) throw policyErrors(analysis.diagnostics, dir);
    if (!json) printDiagnostics(analysis.diagnostics, dir);
    const { payload, envelope, revision } = bundle;
    await writeFileAtomic(out, envelope, 0o644);

    const summary = {
      ok: true,
      out,
      audience: payload.audience,
      serial,
      revision,
      created_at: payload.created_at,
      expires_at: payload.expires_at,
      digest: bundle.digest,
      bytes: envelope.length,
      counts: {
        providers: payload.providers.length,
        models: payload.models.length,
        rules: payload.rules.length,
        principals: payload.principals.length,
        access_classes: payload.access_classes.length,
        keys: payload.keys.length,
      },
      diagnostics: diagnosticsJson(analysis.diagnostics, dir),
    };
    printResult(
      json,
      summary,
      `wrote ${out}: serial ${serial}, revision ${revision}, ${payload.principals.length} principals, ${payload.models.length} models, ${payload.rules.length} rules, ${payload.keys.length} keys; expires ${payload.expires_at}\n`,
    );
    return 0;
  },
};

function parseSerial(text: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new UsageError('--serial must be a positive integer');
  return Number(text);
}

/** The default serial: max(unix seconds of createdAt, serial of the bundle already at out + 1). The bundle at out is read only for its serial, never trusted otherwise. */
export async function nextSerial(out: string, createdAt: Date): Promise<number> {
  const fromClock = Math.floor(createdAt.getTime() / 1000);
  try {
    const envelope = JSON.parse(await readFile(out, 'utf8')) as { payload?: unknown };
    const previous = JSON.parse(Buffer.from(String(envelope.payload), 'base64').toString('utf8')) as { serial?: unknown };
    if (typeof previous.serial === 'number' && Number.isSafeInteger(previous.serial)) return Math.max(fromClock, previous.serial + 1);
  } catch {
    // no previous bundle, or not one of ours: the clock alone sets the serial
  }
  return fromClock;
}
