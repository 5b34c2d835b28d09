// The version this gateway runs, for modelgate_build_info: read once at start from the
// package.json above this file (the same walk works from the sources and from the bundle in dist/).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** modelgate's version, or 'unknown' when no package.json of modelgate is found. */
export function ownVersion(): string {
  try {
    for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
      let text: string | undefined;
      try {
        text = readFileSync(join(dir, 'package.json'), 'utf8');
      } catch {
        text = undefined;
      }
      const pkg = text === undefined ? undefined : (JSON.parse(text) as { name?: string; version?: string });
      if (pkg?.name === 'modelgate' && typeof pkg.version === 'string') return pkg.version;
      if (dirname(dir) === dir) return 'unknown';
    }
  } catch {
    return 'unknown';
  }
}
