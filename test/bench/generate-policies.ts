// A seeded generator of valid policy trees, from a handful of principals (the differential test)
// to an enterprise-sized repository (the compile benchmark). Output is YAML text, as a user would
// commit it, so that the measured path includes parsing. Every generated tree compiles with no
// error; it may warn (rules that name disabled models, rules already expired at `now`).
import type { SourceFile } from '../../compiler/load/source-file.ts';
import { mulberry32, type Prng } from '../support/prng.ts';

export interface GenerateOptions {
  seed: number;
  accounts: number;
  modelsPerAccount: number;
  users: number;
  teams: number;
  services: number;
  rules: number;
  keys: number;
  /** Share of models declared with enabled: false. */
  disabledRate?: number;
  /** Share of rules with an expires. */
  expiringRate?: number;
  /** Rules per authz/*.yaml file. */
  rulesPerFile?: number;
}

export interface GeneratedPolicies {
  files: SourceFile[];
  /** The compile time the expiries are placed around (some before it, most after). */
  now: Date;
  /** Every distinct rule expiry, as written. */
  expiries: string[];
}

const FAMILIES = ['gpt', 'llama', 'embed', 'mistral', 'whisper'];
const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const NOW = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const quoteAll = (items: readonly string[]): string => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;

/** Generates a valid policy tree; the same options always give the same files. */
export function generatePolicies(options: GenerateOptions): GeneratedPolicies {
  const random = mulberry32(options.seed);
  const disabledRate = options.disabledRate ?? 0.05;
  const expiringRate = options.expiringRate ?? 0.15;
  const rulesPerFile = options.rulesPerFile ?? 100;
  const files: SourceFile[] = [{ path: 'gateway.yaml', text: `audience: generated-${options.seed}\nbundle:\n  lifetime: 7d\n` }];

  // Providers: each model is family-variant; variants are single digits where possible so that
  // "family-?" globs match something.
  const width = String(Math.max(options.accounts - 1, 1)).length;
  const accounts: { name: string; models: { name: string; enabled: boolean }[] }[] = [];
  for (let a = 0; a < options.accounts; a++) {
    const name = `acct-${pad(a, width)}`;
    const count = Math.max(1, options.modelsPerAccount + random.int(3) - 1);
    const models = Array.from({ length: count }, (_, m) => ({
      name: `${FAMILIES[m % FAMILIES.length]}-${Math.floor(m / FAMILIES.length)}`,
      enabled: !random.chance(disabledRate),
    }));
    accounts.push({ name, models });
    const mock = random.chance(0.5);
    const lines = [
      `name: ${name}`,
      mock ? 'type: mock' : 'type: openai',
      ...(mock ? [] : [`secret: env://${name.toUpperCase().replace(/-/g, '_')}_KEY`]),
      'models:',
    ];
    for (const model of models) {
      lines.push(`  - name: ${model.name}`);
      if (!model.enabled) lines.push('    enabled: false');
    }
    files.push({ path: `providers/${name}.yaml`, text: lines.join('\n') + '\n' });
  }
  const allModels = accounts.flatMap((a) => a.models.map((m) => ({ account: a.name, ...m, fqn: `${a.name}/${m.name}` })));

  // Directory: every user has a primary team; a fifth also join a second one.
  const userWidth = String(options.users).length;
  const users = Array.from({ length: options.users }, (_, i) => `user-${pad(i, userWidth)}`);
  const teamNames = Array.from({ length: options.teams }, (_, i) => `team-${pad(i, 3)}`);
  const members: string[][] = teamNames.map(() => []);
  for (const user of users) {
    if (options.teams === 0) break;
    const primary = random.int(options.teams);
    members[primary]!.push(user);
    if (random.chance(0.2)) {
      const second = random.int(options.teams);
      if (second !== primary) members[second]!.push(user);
    }
  }
  const services = Array.from({ length: options.services }, (_, i) => `svc-${pad(i, 4)}`);
  const directory: string[] = ['users:'];
  users.forEach((user, i) => {
    directory.push(`  - {username: ${user}, id: uid-${pad(i, userWidth)}}`);
  });
  directory.push('teams:');
  teamNames.forEach((team, i) => {
    directory.push(`  - name: ${team}`, `    members: [${members[i]!.join(', ')}]`);
  });
  directory.push('services:');
  services.forEach((service, i) => {
    directory.push(`  - {name: ${service}, id: sid-${pad(i, 4)}}`);
  });
  files.push({ path: 'directory.yaml', text: directory.join('\n') + '\n' });

  // Expiries come from a small pool, so that many rules lapse at the same instants (and the
  // differential test can probe just before, at and after each one); two are already past.
  const expiryPool = [-30, -1, 1, 7, 30, 90, 180, 365].map((days) => new Date(NOW.getTime() + days * DAY + random.int(DAY)).toISOString());

  const rules: string[] = [];
  for (let r = 0; r < options.rules; r++) {
    const refs = new Set<string>();
    const refCount = 1 + random.int(3);
    for (let k = 0; k < refCount; k++) refs.add(modelRef(random, accounts, allModels));
    const lines = [`  - models: ${quoteAll([...refs])}`];
    const shape = random.next();
    const someUsers = (max: number): string[] => random.sample(users, 1 + random.int(max));
    const someTeams = (): string[] => random.sample(teamNames, 1 + random.int(2));
    const someServices = (): string[] => random.sample(services, 1 + random.int(2));
    let named = false;
    if (shape < 0.4 && teamNames.length > 0) {
      lines.push(`    teams: [${someTeams().join(', ')}]`);
      named = true;
      if (random.chance(0.3) && users.length > 0) lines.push(`    users: [${someUsers(3).join(', ')}]`);
    } else if (shape < 0.75 && users.length > 0) {
      lines.push(`    users: [${someUsers(5).join(', ')}]`);
      named = true;
    } else if (shape < 0.9 && services.length > 0) {
      lines.push(`    services: [${someServices().join(', ')}]`);
      named = true;
    } else {
      if (users.length > 0) lines.push(`    users: [${someUsers(2).join(', ')}]`);
      if (teamNames.length > 0) lines.push(`    teams: [${someTeams().join(', ')}]`);
      if (services.length > 0) lines.push(`    services: [${someServices().join(', ')}]`);
      named = users.length + teamNames.length + services.length > 0;
    }
    if (!named) throw new Error('a generated rule needs at least one principal: give the generator users, teams or services');
    if (random.chance(expiringRate)) lines.push(`    expires: ${random.pick(expiryPool)}`);
    rules.push(lines.join('\n'));
  }
  for (let start = 0, file = 0; start < rules.length; start += rulesPerFile, file++) {
    files.push({ path: `authz/rules-${pad(file, 4)}.yaml`, text: 'authz_rules:\n' + rules.slice(start, start + rulesPerFile).join('\n') + '\n' });
  }

  const ids = new Set<string>();
  for (let k = 0; k < options.keys; k++) {
    let id = '';
    while (id === '' || ids.has(id)) id = Array.from({ length: 12 }, () => ALPHANUMERIC[random.int(62)]).join('');
    ids.add(id);
    const principal = services.length > 0 && random.chance(0.1) ? `service:${random.pick(services)}` : random.pick(users);
    const sha256 = Array.from({ length: 64 }, () => '0123456789abcdef'[random.int(16)]).join('');
    const lines = [`id: "${id}"`, `principal: "${principal}"`, `sha256: "${sha256}"`, 'created: 2026-01-01T00:00:00Z'];
    // `keys create` sets an expiry by default (90 days), so most keys have one; a few legacy keys
    // without it keep the MG_KEY_NO_EXPIRY warning path in the measurement. The random draws are
    // the same as before, so the rest of the tree is unchanged.
    if (random.chance(0.3)) lines.push(`expires: ${new Date(NOW.getTime() + (30 + random.int(300)) * DAY).toISOString()}`);
    else if (k % 50 !== 0) lines.push(`expires: ${new Date(NOW.getTime() + 90 * DAY).toISOString()}`);
    if (random.chance(0.05)) lines.push('revoked: true');
    files.push({ path: `keys/${id}.yaml`, text: lines.join('\n') + '\n' });
  }

  return { files, now: NOW, expiries: [...new Set(expiryPool)].sort() };
}

type CatalogEntry = { account: string; name: string; enabled: boolean; fqn: string };

// Exact names (mostly enabled ones) and five kinds of glob, each built from a declared model so
// that it always matches something.
function modelRef(random: Prng, accounts: readonly { name: string; models: readonly { name: string }[] }[], all: readonly CatalogEntry[]): string {
  const roll = random.next();
  const model = random.pick(all);
  const family = model.name.slice(0, model.name.lastIndexOf('-'));
  if (roll < 0.7) {
    if (!model.enabled && random.chance(0.7)) return random.pick(all.filter((m) => m.account === model.account && m.enabled).concat([model])).fqn;
    return model.fqn;
  }
  if (roll < 0.76) return `${model.account}/*`;
  if (roll < 0.82) return `${model.account}/${family}-*`;
  if (roll < 0.88) return `*/${model.name}`;
  if (roll < 0.94) {
    const other = random.pick(accounts).name;
    return other === model.account ? `${model.account}/${family}-?` : `{${model.account},${other}}/${family}-*`;
  }
  return `${model.account}/${family}-[0-${model.name.slice(-1)}]`;
}
