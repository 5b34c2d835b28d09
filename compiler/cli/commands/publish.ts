import type { TrustedKey } from '../../../schemas/bundle/verify.ts';
import { type Destination, parseDestination } from '../../publish/destination.ts';
import { type Publishable, readPublishable } from '../../publish/envelope.ts';
import { fileDestination } from '../../publish/file.ts';
import { githubReleaseDestination } from '../../publish/github-release.ts';
import { httpsPutDestination } from '../../publish/https-put.ts';
import { short } from '../../publish/order.ts';
import { parse, requireString } from '../args.ts';
import { readBundleBytes, readBundleInput } from '../bundle-input.ts';
import type { Command } from '../command.ts';
import { EnvironmentError, rethrowAs, toCliError, UsageError } from '../errors.ts';
import { printResult } from '../output.ts';

const TIMEOUT_MS = 60_000;

export const publishCommand: Command = {
  name: 'publish',
  summary: 'publish a signed bundle where runtimes poll it',
  usage: `modelgate publish FILE --to DEST [--public-key PEM ...] [--keep N] [--current URL] [--format text|json]

Publishes the bundle FILE (from \`modelgate compile\`) only if its serial is higher than the one
the destination holds: the same serial with the same digest is a no-op (exit 0); a lower serial,
or the same serial with other content, is refused with MG_PUBLISH_STALE_SERIAL (exit 1).
An envelope that does not parse, has expired, or was created in the future (beyond 5 minutes of
clock skew) is never published (MG_BUNDLE_*, exit 1).

Destinations (--to):
  file://DIR                 writes DIR/bundle-<serial>.json and DIR/bundle.json (what runtimes
                             poll), each atomically, under a lock file; keeps the newest --keep
  github-release://OWNER/REPO
                             a release tagged modelgate-bundle-<serial> with asset bundle.json,
                             marked latest; runtimes poll
                             $GITHUB_SERVER_URL/OWNER/REPO/releases/latest/download/bundle.json
                             Needs GITHUB_TOKEN (contents: write); GITHUB_API_URL sets the API
                             (default https://api.github.com)
  https://URL                PUT to a (presigned) URL; the query string is never printed.
                             http:// only to a loopback host

  --public-key PEM   verify the signature with this trusted key first (repeatable; recommended)
  --keep N           file:// only: bundle-<serial>.json files to keep (default 10)
  --current URL      https:// only: where the published bundle is read back (the URL runtimes
                     poll), to compare serials before the PUT; without it the runtime's
                     rollback refusal is the only guard
  --format json      the outcome as JSON

See docs/publishing.md.`,
  async run(args) {
    const { values, positionals, json } = parse(
      args,
      { to: { type: 'string' }, 'public-key': { type: 'string', multiple: true }, keep: { type: 'string' }, current: { type: 'string' } },
      1,
    );
    const file = positionals[0];
    if (file === undefined) throw new UsageError('the bundle FILE is required');
    const spec = parseDestination(requireString(values.to, '--to'), process.cwd());
    if ('problem' in spec) throw new UsageError(spec.problem);
    if (values.keep !== undefined && spec.kind !== 'file') throw new UsageError('--keep applies to file:// destinations only');
    if (values.current !== undefined && spec.kind !== 'https') throw new UsageError('--current applies to https:// destinations only');
    const destination = makeDestination(spec, values);

    const keyPaths = (values['public-key'] as string[] | undefined) ?? [];
    let trusted: TrustedKey[] | null = null;
    let bytes: Buffer;
    if (keyPaths.length > 0) ({ keys: trusted, bytes } = await readBundleInput(file, keyPaths));
    else bytes = await readBundleBytes(file);

    let bundle: Publishable;
    try {
      bundle = readPublishable(bytes, trusted, Date.now());
    } catch (error) {
      throw toCliError(error, { subject: file });
    }
    const result = await destination.publish(bundle).catch(rethrowAs({ data: { destination: destination.display } }));
    const summary = {
      ok: true,
      status: result.status,
      destination: destination.display,
      serial: bundle.serial,
      digest: bundle.digest,
      revision: bundle.revision,
      verified_by: bundle.keyid,
      previous: result.previous,
      poll_url: result.pollUrl,
      notes: result.notes,
    };
    const previous = result.previous === null ? '' : ` (previous serial ${result.previous.serial})`;
    const lines = [
      result.status === 'unchanged'
        ? `${destination.display} already holds serial ${bundle.serial} with the same digest ${short(bundle.digest)}: nothing to do`
        : `published serial ${bundle.serial} (revision ${bundle.revision}, digest ${short(bundle.digest)}) to ${destination.display}${previous}`,
      ...result.notes.map((note) => `note: ${note}`),
      ...(result.pollUrl === null ? [] : [`runtimes poll: ${result.pollUrl}`]),
    ];
    printResult(json, summary, lines.join('\n') + '\n');
    if (!json && bundle.keyid === null) process.stderr.write('warning: the signature was not checked (give --public-key)\n');
    return 0;
  },
};

function makeDestination(
  spec: Exclude<ReturnType<typeof parseDestination>, { problem: string }>,
  values: { keep?: string | undefined; current?: string | undefined },
): Destination {
  switch (spec.kind) {
    case 'file': {
      const keep = values.keep ?? '10';
      if (!/^[1-9][0-9]{0,5}$/.test(keep)) throw new UsageError('--keep must be a positive integer');
      return fileDestination(spec.dir, { keep: Number(keep) });
    }
    case 'github-release': {
      const token = process.env.GITHUB_TOKEN;
      if (token === undefined || token === '') throw new EnvironmentError('GITHUB_TOKEN is not set (a token with contents: write on the repository)');
      return githubReleaseDestination({
        owner: spec.owner,
        repo: spec.repo,
        token,
        apiUrl: process.env.GITHUB_API_URL || 'https://api.github.com',
        serverUrl: process.env.GITHUB_SERVER_URL || 'https://github.com',
        timeoutMs: TIMEOUT_MS,
      });
    }
    case 'https': {
      let current: URL | null = null;
      if (values.current !== undefined) {
        const parsed = parseDestination(values.current, process.cwd());
        if ('problem' in parsed || parsed.kind !== 'https') throw new UsageError('--current must be an https:// URL (http:// only to a loopback host)');
        current = parsed.url;
      }
      return httpsPutDestination(spec.url, { current, timeoutMs: TIMEOUT_MS });
    }
  }
}
