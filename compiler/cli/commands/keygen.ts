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

Writes DIR/signing-key.pem (private, mode 0600; keep it in your CI secret store, never in git)
and DIR/signing-key.pub.pem (public; give it to every runtime). Refuses to overwrite.`,
  async run(args) {
    const { values, json } = parse(args, { out: { type: 'string' } });
    const dir = requireString(values.out, '--out');
    const privatePath = join(dir, 'signing-key.pem');
    const publicPath = join(dir, 'signing-key.pub.pem');
    for (const path of [privatePath, publicPath]) {
      if (await access(path).then(() => true, () => false)) throw new EnvironmentError(`${path} already exists; refusing to overwrite a key`);
    }
    await mkdir(dir, { recursive: true });
    const pair = generateSigningKeyPair();
    await writeFileAtomic(privatePath, pair.privatePem, 0o600, { exclusive: true });
    await writeFileAtomic(publicPath, pair.publicPem, 0o644, { exclusive: true });
    const keyid = keyIdOf(pair.publicKey);
    printResult(json, { private_key: privatePath, public_key: publicPath, keyid }, `private key: ${privatePath} (keep it secret)\npublic key:  ${publicPath}\nkeyid:       ${keyid}\n`);
    return 0;
  },
};
