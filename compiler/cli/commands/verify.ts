import { createdInFuture, isBundleExpired, MAX_CLOCK_SKEW_MS } from '../../../schemas/bundle/expiry.ts';
import { parse } from '../args.ts';
import { readVerifiedBundle } from '../bundle-input.ts';
import type { Command } from '../command.ts';
import { failure, UsageError } from '../errors.ts';
import { printResult } from '../output.ts';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'verify a bundle and print a summary',
  usage: `modelgate verify FILE --public-key PEM [--public-key PEM ...] [--audience A] [--allow-expired] [--format text|json]

Checks the signature against the trusted public keys (several for rotation), the payload
against the bundle schema, and, like a runtime would, the audience, the expiry and that
created_at is not in the future (beyond 5 minutes of clock skew).
Exit 0 when the bundle is valid, 1 with a code (MG_BUNDLE_*) when it is not.

  --public-key PEM   a trusted Ed25519 public key (repeatable)
  --audience A       fail unless the bundle is for this gateway fleet
  --allow-expired    accept an expired bundle (audits of old bundles)`,
  async run(args) {
    const { values, positionals, json } = parse(
      args,
      { 'public-key': { type: 'string', multiple: true }, audience: { type: 'string' }, 'allow-expired': { type: 'boolean' } },
      1,
    );
    const file = positionals[0];
    if (file === undefined) throw new UsageError('the bundle FILE is required');
    const keyPaths = (values['public-key'] as string[] | undefined) ?? [];
    if (keyPaths.length === 0) throw new UsageError('--public-key is required');
    const { payload, digest, keyid } = await readVerifiedBundle(file, keyPaths);
    // The checks a runtime adds to the verifier's: this gateway's audience, and the expiry.
    if (typeof values.audience === 'string' && payload.audience !== values.audience) {
      throw failure('MG_BUNDLE_AUDIENCE', `the bundle is for audience "${payload.audience}", not "${values.audience}"`, { subject: file });
    }
    const nowMs = Date.now();
    if (createdInFuture(payload, nowMs)) {
      throw failure(
        'MG_BUNDLE_CREATED_IN_FUTURE',
        `the bundle was created at ${payload.created_at}, more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes in the future; its serial would become every gateway's floor (see docs/publishing.md, "A poisoned serial floor")`,
        { subject: file },
      );
    }
    const expired = isBundleExpired(payload, nowMs);
    if (expired && values['allow-expired'] !== true) {
      throw failure('MG_BUNDLE_EXPIRED', `the bundle expired at ${payload.expires_at} (use --allow-expired to inspect it anyway)`, { subject: file });
    }
    const summary = {
      ok: true,
      audience: payload.audience,
      serial: payload.serial,
      revision: payload.revision,
      created_at: payload.created_at,
      expires_at: payload.expires_at,
      expired,
      digest,
      keyid,
      counts: {
        providers: payload.providers.length,
        models: payload.models.length,
        rules: payload.rules.length,
        principals: payload.principals.length,
        access_classes: payload.access_classes.length,
        keys: payload.keys.length,
        oidc_issuers: payload.oidc.issuers.length,
      },
    };
    const c = summary.counts;
    printResult(
      json,
      summary,
      `ok: signed by ${keyid}\n` +
        `audience ${payload.audience}, serial ${payload.serial}, revision ${payload.revision}\n` +
        `created ${payload.created_at}, expires ${payload.expires_at}${expired ? ' (EXPIRED)' : ''}\n` +
        `${c.providers} providers, ${c.models} models, ${c.rules} rules, ${c.access_classes} access classes, ${c.principals} principals, ${c.keys} keys, ${c.oidc_issuers} OIDC issuers\n`,
    );
    return 0;
  },
};
