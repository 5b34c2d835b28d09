// `npm run build` (and `prepack`): the modelgate package's JavaScript in dist/.
// esbuild bundles the composition root (bin/cli.ts) with the compiler, the runtime, the client code
// the CLI uses and their npm dependencies, split at the dynamic imports: dist/cli.js is the small
// dispatcher; `serve` loads the runtime's chunk, every other command the compiler's. The package
// then has no runtime dependencies to install, and a command parses one file instead of resolving
// hundreds. The cloud secret SDKs stay outside (optional peer dependencies, loaded on first use).
// The bundled packages' licenses go to dist/THIRD-PARTY-LICENSES.txt. The bundle activation worker
// (runtime/bundle/activation-worker.ts) is a second entry point, dist/activation-worker.js: a worker
// thread loads it by file (runtime/bundle/off-thread.ts finds it from the runtime's chunk).

import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PACKAGE_BUNDLE } from './build-options.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');

/** The compiler's `modelgate --help` text, captured from its own main(). */
async function usageText(): Promise<string> {
  const { main } = await import('../compiler/cli/main.ts');
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    chunks.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    if ((await main(['--help'])) !== 0) throw new Error('modelgate --help failed');
  } finally {
    process.stdout.write = write;
  }
  return chunks.join('');
}

await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'bin/cli.ts', 'activation-worker': 'runtime/bundle/activation-worker.ts' },
  ...PACKAGE_BUNDLE,
  outdir,
  sourcemap: false,
  legalComments: 'none', // the licenses are collected per package below
  metafile: true,
  define: { MODELGATE_USAGE: JSON.stringify(await usageText()) },
});

// One entry per bundled package: name, version, license and its license file(s), as their terms ask.
const packages = new Map<string, string>();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match !== null) packages.set(match[1] as string, '');
}
const notices: string[] = [];
for (const dir of [...packages.keys()].sort()) {
  const pkg = JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
  const files = (await readdir(join(root, dir))).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(root, dir, f), 'utf8')));
  notices.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'see below'})\n\n${texts.join('\n\n').trim() || '(no license file in the package)'}\n`);
}
const unique = [...new Map(notices.map((n) => [n.split('\n')[0], n])).values()];
await writeFile(
  join(outdir, 'THIRD-PARTY-LICENSES.txt'),
  `The modelgate bundles in this folder include these packages:\n\n${unique.join(`\n${'-'.repeat(78)}\n\n`)}`,
);

const outputs = Object.entries(result.metafile.outputs);
const total = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
const cli = (await stat(join(outdir, 'cli.js'))).size;
console.error(`dist/: ${outputs.length} files, ${(total / 1024).toFixed(0)} KiB (cli.js ${(cli / 1024).toFixed(1)} KiB), ${unique.length} bundled packages`);
