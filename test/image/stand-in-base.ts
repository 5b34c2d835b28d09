// No container registry is reachable here, so the Dockerfile's base image is stood in for: a root
// file system holding this machine's Node binary (process.execPath), npm, a shell and the few
// tools the build stage runs, with their shared libraries (from ldd), imported with `podman import`
// under the exact name the Dockerfile's FROM uses. The Dockerfile users build is the one tested.
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mustSucceed, type Podman, run } from './podman.ts';

/** The image names of the Dockerfile's FROM lines (stage names are not images). */
export async function baseImages(dockerfile: string): Promise<string[]> {
  const text = await readFile(dockerfile, 'utf8');
  const stages = new Set<string>();
  const images = new Set<string>();
  for (const match of text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    const image = match[1] as string;
    if (!stages.has(image)) images.add(image);
    if (match[2] !== undefined) stages.add(match[2]);
  }
  return [...images];
}

const TOOLS = ['/usr/bin/dash', '/usr/bin/env', '/usr/bin/mkdir', '/usr/bin/cp', '/usr/bin/ls', '/usr/bin/cat', '/usr/bin/rm'];

// Debian merged /usr: /bin, /lib and /lib64 are links into /usr.
const inUsr = (path: string): string => (/^\/(bin|sbin|lib|lib64)\//.test(path) ? `/usr${path}` : path);

async function place(root: string, from: string, to: string, mode?: number): Promise<void> {
  const target = join(root, inUsr(to));
  await mkdir(dirname(target), { recursive: true });
  await copyFile(await realpath(from), target);
  if (mode !== undefined) await chmod(target, mode);
}

async function sharedLibraries(binary: string, guardMs: number): Promise<string[]> {
  const out = mustSucceed(await run('ldd', [binary], { guardMs }), `ldd ${binary}`).stdout;
  return [...out.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1] as string);
}

/** Builds the stand-in and tags it as every name; reused when one made from this Node exists. */
export async function ensureStandInBase(podman: Podman, names: string[], guardMs: number): Promise<void> {
  const label = `modelgate.stand-in=${process.version}`;
  const present = await Promise.all(
    names.map(
      async (name) =>
        (await podman(['image', 'inspect', '--format', '{{index .Labels "modelgate.stand-in"}}', name], guardMs)).stdout.trim() === process.version,
    ),
  );
  if (present.every(Boolean)) return;

  const work = await mkdtemp(join(tmpdir(), 'mg-stand-in-'));
  const root = join(work, 'root');
  try {
    for (const dir of [
      'usr/bin',
      'usr/lib',
      'usr/lib64',
      'usr/sbin',
      'usr/local/bin',
      'usr/local/lib/node_modules',
      'etc/ssl/certs',
      'root',
      'tmp',
      'home/node',
    ])
      await mkdir(join(root, dir), { recursive: true });
    await chmod(join(root, 'tmp'), 0o1777);
    for (const link of ['bin', 'lib', 'lib64', 'sbin']) await symlink(`usr/${link}`, join(root, link));
    await symlink('dash', join(root, 'usr/bin/sh'));

    const binaries = [process.execPath, ...TOOLS];
    await place(root, process.execPath, '/usr/local/bin/node', 0o755);
    for (const tool of TOOLS) await place(root, tool, tool, 0o755);
    const libraries = new Set((await Promise.all(binaries.map((b) => sharedLibraries(b, guardMs)))).flat());
    for (const library of libraries) await place(root, library, library, 0o755);

    // npm as the official image has it: under /usr/local/lib/node_modules, started by node.
    const npmCli = await realpath(mustSucceed(await run('sh', ['-c', 'command -v npm'], { guardMs }), 'finding npm').stdout.trim());
    const npmDir = dirname(dirname(npmCli));
    mustSucceed(await run('cp', ['-R', npmDir, join(root, 'usr/local/lib/node_modules/npm')], { guardMs }), 'copying npm');
    for (const [command, script] of [
      ['npm', 'npm-cli.js'],
      ['npx', 'npx-cli.js'],
    ] as const) {
      await writeFile(join(root, 'usr/local/bin', command), `#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/${script} "$@"\n`, {
        mode: 0o755,
      });
    }
    await copyFile('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'));
    // This machine reaches the npm registry through a TLS-intercepting proxy whose CA its Node
    // trusts through NODE_EXTRA_CA_CERTS: the stand-in carries the same, as the machine's Node
    // environment (the Dockerfile itself assumes nothing of the kind).
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    const caChanges = extraCa === undefined || extraCa === '' ? [] : ['--change', 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca.crt'];
    if (caChanges.length > 0) await copyFile(extraCa as string, join(root, 'etc/ssl/certs/extra-ca.crt'));
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
    await writeFile(join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');

    const tar = join(work, 'root.tar');
    mustSucceed(await run('tar', ['-C', root, '-cf', tar, '.'], { guardMs }), 'packing the stand-in root');
    const [first, ...others] = names as [string, ...string[]];
    mustSucceed(
      await podman(['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', ...caChanges, '--change', `LABEL ${label}`, tar, first], guardMs),
      'podman import',
    );
    for (const other of others) mustSucceed(await podman(['tag', first, other], guardMs), 'podman tag');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
