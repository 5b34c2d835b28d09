import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { writeFileAtomic } from '../../../schemas/io/write-atomic.ts';
import { parse } from '../args.ts';
import type { Command } from '../command.ts';
import { EnvironmentError, failure, UsageError } from '../errors.ts';
import { printResult } from '../output.ts';
import { requirePolicyFolder } from '../policies.ts';

export const keysRevokeCommand: Command = {
  name: 'keys revoke',
  summary: 'mark an API key revoked (revoked: true in keys/<id>.yaml)',
  usage: `modelgate keys revoke ID [--policies DIR] [--format text|json]

Sets revoked: true in keys/ID.yaml (comments and other fields kept; the file is replaced
atomically). Commit it and publish a new bundle: gateways refuse the key from that bundle on.
Revoking a key that is already revoked is a no-op (exit 0). Exit 1 when there is no such record.`,
  async run(args) {
    const { values, positionals, json } = parse(args, { policies: { type: 'string', default: 'policies' } }, 1);
    const id = positionals[0];
    if (id === undefined) throw new UsageError('the key ID is required');
    if (!/^[0-9A-Za-z]{12}$/.test(id)) throw new UsageError('a key ID is 12 letters and digits (the part after mg_ in the key)');
    const dir = values.policies as string;
    await requirePolicyFolder(dir);
    const found = await firstReadable([join(dir, 'keys', `${id}.yaml`), join(dir, 'keys', `${id}.yml`)]);
    if (found === null) throw failure('MG_CLI_KEY_NOT_FOUND', `no key record keys/${id}.yaml under ${dir}`);
    const document = parseDocument(found.text);
    if (document.errors.length > 0 || !isMap(document.contents)) throw new EnvironmentError(`${found.path} is not a key record (run \`modelgate check\`)`);
    const already = document.get('revoked') === true;
    if (!already) {
      document.set('revoked', true);
      await writeFileAtomic(found.path, document.toString(), 0o644);
    }
    printResult(
      json,
      { ok: true, id, record: found.path, status: already ? 'already-revoked' : 'revoked' },
      already ? `${found.path}: already revoked\n` : `revoked ${id} in ${found.path}; commit it and publish a new bundle\n`,
    );
    return 0;
  },
};

async function firstReadable(paths: string[]): Promise<{ path: string; text: string } | null> {
  for (const path of paths) {
    const text = await readFile(path, 'utf8').catch(() => null);
    if (text !== null) return { path, text };
  }
  return null;
}
