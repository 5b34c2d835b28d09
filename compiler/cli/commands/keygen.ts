import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { keyIdOf } from '../../../schemas/bundle/dsse.ts';
import { generateSigningKeyPair } from '../../../schemas/formats/signing-keys.ts';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { parse, requireString } from '../args.ts';
import type { Command } from '../command.ts';
import { EnvironmentError } from '../errors.ts';
import { printResult } from '../output.ts';

export const keygenCommand: Command = {
  name: 'keygen',
  summary: 'create an Ed25519 key pair for signing bundles',
  usage: `modelgate keygen --out DIR [--format text|json]

Writes DIR/signing-key.pem (private; keep it in your CI secret store, never in git) and
DIR/signing-key.pub.pem (public; give it to every runtime). DIR is created mode 0700 and both
files mode 0600, whatever the umask. Refuses to overwrite.`,
  async run(args) {
    const { values, json } = parse(args, { out: { type: 'string' } });
    const dir = requireString(values.out, '--out');
    const privatePath = join(dir, 'signing-key.pem');
    const publicPath = join(dir, 'signing-key.pub.pem');
    for (const path of [privatePath, publicPath]) {
      if (
        await access(path).then(
          () => true,
          () => false,
        )
      )
        throw new EnvironmentError(`${path} already exists; refusing to overwrite a key`);
    }
    // 0700 / 0600 whatever the umask: a key folder made world-writable lets another local user swap
    // the public key (or read a private key written there later). mkdir's mode only narrows
    // through the umask, so the folders it creates are at most 0700.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = generateSigningKeyPair();
    await writeFileAtomic(privatePath, pair.privatePem, 0o600, { exclusive: true });
    await writeFileAtomic(publicPath, pair.publicPem, 0o600, { exclusive: true });
    const keyid = keyIdOf(pair.publicKey);
    printResult(
      json,
      { private_key: privatePath, public_key: publicPath, keyid },
      `private key: ${privatePath} (keep it secret)\npublic key:  ${publicPath}\nkeyid:       ${keyid}\n`,
    );
    return 0;
  },
};
