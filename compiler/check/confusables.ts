// Names that differ only by case or by look-alike characters (Cyrillic "а" for Latin "a") are a
// classic way to slip a grant past review; warn on each such pair within one namespace.
import { type Diagnostic, diagnostic, type Position } from '../diagnostics/diagnostic.ts';

export interface NamedThing {
  kind: string;
  name: string;
  /** Where the name is defined; called only when there is something to report. */
  locate(): { file: string; at: Position };
}

// A small subset of Unicode TR39 confusables: the letters that most often pass for Latin ones.
const LOOK_ALIKES: Record<string, string> = {
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ɡ: 'g',
  ı: 'i',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  '0': 'o',
  '1': 'l',
  '|': 'l',
  _: '-',
  '.': '-',
};

/** Folds a name to the form two look-alike names share. */
function skeleton(name: string): string {
  let out = '';
  for (const ch of name.normalize('NFKC').toLowerCase()) out += LOOK_ALIKES[ch] ?? ch;
  return out.replace(/rn/g, 'm');
}

/** Warns on each pair of names within one namespace that differ only by case or look-alike characters. */
export function checkConfusables(things: readonly NamedThing[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const firstBySkeleton = new Map<string, NamedThing>();
  for (const thing of things) {
    const key = `${thing.kind}\u0000${skeleton(thing.name)}`;
    const first = firstBySkeleton.get(key);
    if (first === undefined) {
      firstBySkeleton.set(key, thing);
    } else if (first.name !== thing.name) {
      const how = first.name.toLowerCase() === thing.name.toLowerCase() ? 'only by case' : 'only by look-alike characters';
      const here = thing.locate();
      const there = first.locate();
      out.push(
        diagnostic(
          'MG_NAME_CONFUSABLE',
          here.file,
          here.at,
          `${thing.kind} "${escapeNonAscii(thing.name)}" differs from "${escapeNonAscii(first.name)}" (${there.file}:${there.at.line}) ${how}`,
          'rename one of them so that reviewers cannot mistake one for the other',
        ),
      );
    }
  }
  return out;
}

function escapeNonAscii(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
}
