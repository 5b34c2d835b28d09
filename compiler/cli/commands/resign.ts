import { createdInFuture } from '../../../schemas/bundle/expiry.ts';
import { bundleSchemaProblem } from '../../../schemas/bundle/validate-payload.ts';
import { MAX_BUNDLE_LIFETIME_MS, parseBoundedDuration } from '../../../schemas/formats/duration.ts';
import { readPrivateKey } from '../../../schemas/formats/signing-keys.ts';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { resignPayload, signedLifetimeMs } from '../../bundle/resign.ts';
import { signPayload } from '../../bundle/sign.ts';
import { parse, requireString } from '../args.ts';
import { readVerifiedBundle } from '../bundle-input.ts';
import type { Command } from '../command.ts';
import { failure, UsageError } from '../errors.ts';
import { printResult } from '../output.ts';
import { nextSerial } from './compile.ts';

export const resignCommand: Command = {
  name: 'resign',
  summary: 're-sign a bundle: same policy, new serial and expiry (when the policies cannot compile)',
  usage: `modelgate resign BUNDLE --public-key PEM [--public-key PEM ...] --signing-key PEM --out FILE [--lifetime 7d] [--format text|json]

Verifies BUNDLE (the last good bundle, usually the published one) with the trusted public keys,
then signs its payload again, unchanged but for serial, created_at and expires_at. For the
scheduled re-sign when \`compile --frozen-lock\` fails only because the identity lock is out of
date (MG_LOCK_OUT_OF_DATE: someone joined a GitHub team): gateways keep the last good policy
instead of expiring. The policy is as old as BUNDLE's revision: people removed since then keep
their access until the lock update is merged and a fresh bundle compiles.
An expired BUNDLE is accepted; one created in the future is not.

  --public-key PEM    trusted key that BUNDLE must verify with (repeatable)
  --signing-key PEM   Ed25519 private key to sign with
  --out FILE          where to write the new bundle
  --lifetime D        expires_at = now + D (default: BUNDLE's own lifetime; at most 366d)
  --serial N          default: max(unix time now, BUNDLE's serial + 1, serial in FILE + 1)`,
  async run(args) {
    const { values, positionals, json } = parse(
      args,
      {
        'public-key': { type: 'string', multiple: true },
        'signing-key': { type: 'string' },
        out: { type: 'string' },
        lifetime: { type: 'string' },
        serial: { type: 'string' },
      },
      1,
    );
    const file = positionals[0];
    if (file === undefined) throw new UsageError('the BUNDLE to re-sign is required');
    const keyPaths = (values['public-key'] as string[] | undefined) ?? [];
    if (keyPaths.length === 0) throw new UsageError('--public-key is required: only a bundle that verifies is re-signed');
    const out = requireString(values.out, '--out');
    const signingKey = await readPrivateKey(requireString(values['signing-key'], '--signing-key'));
    const { payload } = await readVerifiedBundle(file, keyPaths);
    const now = new Date();
    if (createdInFuture(payload, now.getTime())) {
      throw failure('MG_BUNDLE_CREATED_IN_FUTURE', `the bundle was created at ${payload.created_at}, in the future; it is not re-signed`, { subject: file });
    }
    let lifetimeMs = signedLifetimeMs(payload);
    if (values.lifetime !== undefined) {
      const parsed = parseBoundedDuration(values.lifetime, MAX_BUNDLE_LIFETIME_MS);
      if (parsed === null) throw new UsageError('--lifetime must be a whole number of minutes, hours or days (like 7d), at most 366d');
      lifetimeMs = parsed;
    }
    if (!(lifetimeMs > 0 && lifetimeMs <= MAX_BUNDLE_LIFETIME_MS)) lifetimeMs = MAX_BUNDLE_LIFETIME_MS;
    let serial = Math.max(await nextSerial(out, now), payload.serial + 1);
    if (values.serial !== undefined) {
      if (!/^[1-9][0-9]{0,15}$/.test(values.serial)) throw new UsageError('--serial must be a positive integer');
      serial = Number(values.serial);
      if (serial <= payload.serial) throw new UsageError(`--serial must be above BUNDLE's serial ${payload.serial}`);
    }
    const next = resignPayload(payload, { serial, createdAt: now, lifetimeMs });
    const problem = bundleSchemaProblem(next);
    if (problem !== null) throw new UsageError(`the re-signed payload would not match the bundle schema: ${problem}`);
    const signed = signPayload(next, signingKey);
    await writeFileAtomic(out, signed.envelope, 0o644);
    const summary = {
      ok: true,
      out,
      from: file,
      audience: next.audience,
      serial,
      revision: next.revision,
      created_at: next.created_at,
      expires_at: next.expires_at,
      previous_serial: payload.serial,
      digest: signed.digest,
    };
    printResult(json, summary, `wrote ${out}: re-signed revision ${next.revision} (serial ${payload.serial} -> ${serial}); expires ${next.expires_at}\n`);
    return 0;
  },
};
