// `modelgate keygen --out` under a permissive umask: the folder it creates and the key files it
// writes are private whatever the umask says.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/modelgate.js', import.meta.url));
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mg-keygen-'));
});
afterAll(() => rm(work, { recursive: true, force: true }));

// A child with umask 000 (vitest workers cannot change the umask of the process they share).
function keygenUnderUmask0(out: string): Promise<number> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', 'umask 000 && exec "$0" "$1" keygen --out "$2"', process.execPath, BIN, out], (error) => {
      resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : 1);
    });
  });
}

describe('when keygen runs under umask 000', () => {
  it('creates the folders 0700 and both key files 0600', async () => {
    const out = join(work, 'nested', 'keys');
    expect(await keygenUnderUmask0(out)).toBe(0);
    const mode = async (path: string) => (await stat(path)).mode & 0o777;
    expect(await mode(join(work, 'nested'))).toBe(0o700);
    expect(await mode(out)).toBe(0o700);
    expect(await mode(join(out, 'signing-key.pem'))).toBe(0o600);
    expect(await mode(join(out, 'signing-key.pub.pem'))).toBe(0o600);
  });
});
