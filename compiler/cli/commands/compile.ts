import { readFile, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { buildPayload } from '../../index/build-payload.ts';
import { policyRevision } from '../../io/git.ts';
import { readPrivateKey, KeyFileError } from '../../../schemas/formats/signing-keys.ts';
import { serializeEnvelope, serializePayload, signBundle } from '../../sign.ts';
import { EnvironmentError, parse, parseInstant, requireString, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { diagnosticsJson, printDiagnostics, printJson } from '../output.ts';
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
  --created-at TIME    default: now (RFC 3339); fixing it makes the output reproducible
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
    });
    const dir = values.policies as string;
    const out = requireString(values.out, '--out');
    const keyPath = requireString(values['signing-key'], '--signing-key');
    const now = new Date();
    const createdAt = values['created-at'] === undefined ? now : parseInstant(values['created-at'], now, '--created-at');
    let privateKey;
    try {
      privateKey = await readPrivateKey(keyPath);
    } catch (error) {
      if (error instanceof KeyFileError) throw new EnvironmentError(error.message);
      throw error;
    }

    const analysis = await analyzePolicies(dir, { now: createdAt, frozenLock: values['frozen-lock'] === true });
    // A bundle is published and trusted for its whole lifetime: built from a lock that may miss
    // who left the org since, it needs an explicit decision, not a warning in a CI log.
    const offline = analysis.diagnostics.find((d) => d.code === 'MG_DIRECTORY_OFFLINE');
    if (offline !== undefined && values['allow-stale-lock'] !== true) {
      throw new EnvironmentError(`${offline.message}.\nRefusing to compile a bundle from a possibly stale lock; run again when GitHub can be reached, or pass --allow-stale-lock to publish it anyway`);
    }
    if (hasErrors(analysis.diagnostics) || analysis.model === null) {
      if (json) printJson({ ok: false, diagnostics: diagnosticsJson(analysis.diagnostics, dir) });
      else printDiagnostics(analysis.diagnostics, dir);
      return 1;
    }
    if (!json) printDiagnostics(analysis.diagnostics, dir);

    const serial = values.serial === undefined ? await nextSerial(out, createdAt) : parseSerial(values.serial);
    const revision = values.revision ?? (await policyRevision(dir));
    const payload = buildPayload(analysis.model, { serial, revision, createdAt });
    const payloadBytes = serializePayload(payload);
    const envelope = serializeEnvelope(signBundle(payloadBytes, privateKey));
    const temp = `${out}.${process.pid}.tmp`;
    await writeFile(temp, envelope);
    await rename(temp, out);

    const summary = {
      ok: true,
      out,
      audience: payload.audience,
      serial,
      revision,
      created_at: payload.created_at,
      expires_at: payload.expires_at,
      digest: createHash('sha256').update(payloadBytes).digest('hex'),
      bytes: envelope.length,
      counts: { providers: payload.providers.length, models: payload.models.length, rules: payload.rules.length, principals: payload.principals.length, access_classes: payload.access_classes.length, keys: payload.keys.length },
      diagnostics: diagnosticsJson(analysis.diagnostics, dir),
    };
    if (json) printJson(summary);
    else process.stdout.write(`wrote ${out}: serial ${serial}, revision ${revision}, ${payload.principals.length} principals, ${payload.models.length} models, ${payload.rules.length} rules, ${payload.keys.length} keys; expires ${payload.expires_at}\n`);
    return 0;
  },
};

function parseSerial(text: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new UsageError('--serial must be a positive integer');
  return Number(text);
}

// The previous bundle at --out is read only for its serial (a floor), never trusted otherwise.
async function nextSerial(out: string, createdAt: Date): Promise<number> {
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
