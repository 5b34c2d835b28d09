import { readPolicyFiles } from '../../io/read-policies.ts';
import { loadPolicySet } from '../../load/policy-set.ts';
import { parse } from '../args.ts';
import type { Command } from '../command.ts';
import { printResult } from '../output.ts';
import { requirePolicyFolder } from '../policies.ts';

export interface KeyListing {
  id: string;
  principal: string;
  created: string;
  expires: string | null;
  revoked: boolean;
  status: 'active' | 'expired' | 'revoked' | 'no-expiry';
  description: string | null;
  file: string;
}

export const keysListCommand: Command = {
  name: 'keys list',
  summary: 'list API key records (never the keys): owner, dates, status',
  usage: `modelgate keys list [--principal NAME] [--policies DIR] [--format text|json]

Lists the records under keys/: id, principal, created, expires and status (active, expired,
revoked, or no-expiry for a live key without an expiry). Records that do not parse are left out;
\`modelgate check\` reports them.

  --principal NAME   only this principal's keys (a username, or service:NAME)`,
  async run(args) {
    const { values, json } = parse(args, { policies: { type: 'string', default: 'policies' }, principal: { type: 'string' } });
    const dir = values.policies as string;
    await requirePolicyFolder(dir);
    const { set } = loadPolicySet((await readPolicyFiles(dir)).filter((f) => f.path.startsWith('keys/')));
    const now = Date.now();
    const keys: KeyListing[] = set.keys
      .filter((doc) => values.principal === undefined || doc.data.principal === values.principal)
      .map(({ data: k, file }) => ({
        id: k.id,
        principal: k.principal,
        created: k.created,
        expires: k.expires ?? null,
        revoked: k.revoked === true,
        status: k.revoked === true ? 'revoked' : k.expires === undefined ? 'no-expiry' : Date.parse(k.expires) <= now ? 'expired' : 'active',
        description: k.description ?? null,
        file,
      }));
    keys.sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : a.created < b.created ? -1 : 1));
    const rows = keys.map(
      (k) =>
        `${k.id}  ${k.principal.padEnd(24)} ${k.status.padEnd(9)} created ${k.created}  expires ${k.expires ?? 'never'}${k.description === null ? '' : `  ${k.description}`}`,
    );
    printResult(json, { ok: true, keys }, rows.length === 0 ? 'no key records\n' : `${rows.join('\n')}\n`);
    return 0;
  },
};
