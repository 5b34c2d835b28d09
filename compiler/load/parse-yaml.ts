// YAML with source positions: every value the checks look at can be traced back to file:line:col.
//
// Two parsers, one meaning. `yaml` builds a full document with positions but costs ~30 us per
// small file and ~25 us per line of a large one; a policy repository with 50,000 key files and a
// 100,000-line directory spends seconds there, while almost no position is ever asked for. So the
// data comes from js-yaml's YAML 1.2 core schema (the same schema `yaml` is set to), and `yaml`
// parses a file only when one of its positions is needed, or when the fast path refuses it: any
// error (so syntax errors and duplicate keys get `yaml`'s diagnostics) and any file that may use
// anchors or aliases (`yaml` caps alias expansion; js-yaml would build a billion-laughs DAG).
import jsYaml from 'js-yaml';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { type Diagnostic, diagnostic, type Position } from '../diagnostics/diagnostic.ts';

export type JsonPath = readonly (string | number)[];

export interface ParsedYaml {
  file: string;
  /** The plain JavaScript value of the document (undefined for an empty file). */
  data: unknown;
  /** Where the value at path starts; with onKey, where its key starts (for unknown fields). Falls back to the nearest ancestor. */
  locate(path: JsonPath, onKey?: boolean): Position;
}

const MAY_USE_ALIASES = /(^|[\s[\]{},:-])[&*!][^\s,[\]{}]/m;

/** Parses one file; syntax errors and duplicate keys come back as diagnostics and no document. */
export function parseYaml(file: string, text: string): { doc: ParsedYaml | null; diagnostics: Diagnostic[] } {
  if (!MAY_USE_ALIASES.test(text)) {
    let data: unknown;
    try {
      data = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, json: false, filename: file });
    } catch {
      return parseWithPositions(file, text);
    }
    let positions: ((path: JsonPath, onKey?: boolean) => Position) | null = null;
    const locate = (path: JsonPath, onKey?: boolean): Position => {
      positions ??= parseWithPositions(file, text).doc?.locate ?? (() => ({ line: 1, col: 1 }));
      return positions(path, onKey);
    };
    return { doc: { file, data: data ?? undefined, locate }, diagnostics: [] };
  }
  return parseWithPositions(file, text);
}

/** The full parse with `yaml`: a document whose every node knows where it is. */
function parseWithPositions(file: string, text: string): { doc: ParsedYaml | null; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  // Plain YAML 1.2 core schema: timestamps stay strings, `yes`/`no` stay strings, no merge keys.
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, schema: 'core', merge: false });
  const diagnostics: Diagnostic[] = [];
  const positionOf = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  for (const error of document.errors) {
    const at = positionOf(error.pos[0]);
    if (error.code === 'DUPLICATE_KEY') {
      diagnostics.push(
        diagnostic('MG_YAML_DUPLICATE_KEY', file, at, 'this mapping has the same key twice', 'remove or rename one of them; YAML keeps only one value'),
      );
    } else {
      diagnostics.push(diagnostic('MG_YAML_SYNTAX', file, at, `YAML syntax error: ${firstLine(error.message)}`));
    }
  }
  // An unknown tag (`!secret x`, `!!binary ...`) is a warning in `yaml`, which then reads the value as
  // a plain string: what the author meant and what modelgate reads would differ without a word.
  for (const warning of document.warnings) {
    if (warning.code === 'TAG_RESOLVE_FAILED') {
      diagnostics.push(
        diagnostic(
          'MG_YAML_UNKNOWN_TAG',
          file,
          positionOf(warning.pos[0]),
          `unknown YAML tag: ${firstLine(warning.message)}`,
          'policy files use plain YAML values; remove the tag',
        ),
      );
    }
  }
  if (diagnostics.length > 0) return { doc: null, diagnostics };

  const root = document.contents as Node | null;
  const locate = (path: JsonPath, onKey = false): Position => {
    let node: unknown = root;
    let best: Position = root?.range ? positionOf(root.range[0]) : { line: 1, col: 1 };
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) return best;
        if (last && onKey && isScalar(pair.key) && pair.key.range) return positionOf(pair.key.range[0]);
        const value = pair.value as Node | null;
        if (value?.range) best = positionOf(value.range[0]);
        else if (isScalar(pair.key) && pair.key.range) best = positionOf(pair.key.range[0]);
        node = value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as Node | undefined;
        if (!item) return best;
        if (item.range) best = positionOf(item.range[0]);
        node = item;
      } else {
        return best;
      }
    }
    return best;
  };
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: 100 });
  } catch {
    // yaml refuses exponential alias expansion ("billion laughs") instead of hanging the compiler.
    return {
      doc: null,
      diagnostics: [
        diagnostic(
          'MG_YAML_SYNTAX',
          file,
          { line: 1, col: 1 },
          'the file expands aliases too many times',
          'policy files do not need YAML anchors and aliases; write the values out',
        ),
      ],
    };
  }
  return { doc: { file, data: data ?? undefined, locate }, diagnostics };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
