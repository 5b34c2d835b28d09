// Credentials pasted into YAML comments: the parsers drop comments, but git keeps them forever.
import { containsKnownKeyShape } from '../../schemas/formats/secret-ref.ts';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import type { SourceFile } from './source-file.ts';

/** MG_SECRET_LITERAL for every comment that holds something shaped like a credential (never echoed). */
export function commentSecrets(file: SourceFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  file.text.split(/\r?\n/).forEach((line, i) => {
    const comment = commentOf(line);
    if (comment !== null && containsKnownKeyShape(comment.text)) {
      out.push(
        diagnostic(
          'MG_SECRET_LITERAL',
          file.path,
          { line: i + 1, col: comment.col },
          'a comment holds what looks like a credential',
          'never put keys in policy files, not even in comments: rotate it, remove it from git history, and reference it through the secret field',
        ),
      );
    }
  });
  return out;
}

// A YAML comment starts with # at the start of a line or after whitespace, outside quotes.
function commentOf(line: string): { col: number; text: string } | null {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    const before = i === 0 ? ' ' : (line[i - 1] as string);
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if ((c === '"' || c === "'") && /[\s:[{,-]/.test(before)) {
      quote = c;
    } else if (c === '#' && /\s/.test(before)) {
      return { col: i + 1, text: line.slice(i + 1) };
    }
  }
  return null;
}
