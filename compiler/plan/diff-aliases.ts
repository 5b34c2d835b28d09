// Model alias changes between two revisions, for `plan`: an alias added, removed, or pointed to
// another model. A retargeted alias changes which model (and account, and bill) every tool that
// sends that name reaches, without any grant changing: a reviewer must see it.

export interface AliasChange {
  alias: string;
  change: 'added' | 'removed' | 'retargeted';
  /** The model the alias stands for in head (base, for a removed alias). */
  model: string;
  /** For retargeted: the model it stood for in base. */
  previous?: string;
}

/** The alias changes from base to head (alias -> FQN maps), sorted by alias. */
export function diffAliases(base: ReadonlyMap<string, string>, head: ReadonlyMap<string, string>): AliasChange[] {
  const changes: AliasChange[] = [];
  for (const [alias, model] of head) {
    const before = base.get(alias);
    if (before === undefined) changes.push({ alias, change: 'added', model });
    else if (before !== model) changes.push({ alias, change: 'retargeted', model, previous: before });
  }
  for (const [alias, model] of base) if (!head.has(alias)) changes.push({ alias, change: 'removed', model });
  return changes.sort((a, b) => (a.alias < b.alias ? -1 : a.alias > b.alias ? 1 : 0));
}

/** The markdown lines of a plan's alias section (none when nothing changed). */
export function aliasLines(changes: readonly AliasChange[], escapeText: (text: string) => string): string[] {
  if (changes.length === 0) return [];
  const line = (c: AliasChange): string => {
    const name = `\`${escapeText(c.alias)}\``;
    if (c.change === 'retargeted') return `- alias ${name} now stands for \`${c.model}\` (was \`${c.previous}\`)`;
    return `- alias ${name} ${c.change === 'added' ? 'added, for' : 'removed (was'} \`${c.model}\`${c.change === 'removed' ? ')' : ''}`;
  };
  return ['', '#### Model aliases', '', ...changes.map(line)];
}
