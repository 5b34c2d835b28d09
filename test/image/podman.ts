// podman as it works on these machines (see TOOLCHAIN.md): runc with cgroupfs, chroot isolation
// for builds, host networking (the test servers listen on 127.0.0.1), and a containers.conf
// without default ulimits. Every call has a hang guard.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output (killed at guardMs). */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; guardMs: number; cwd?: string }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, timeout: options.guardMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: stderr + String(error) }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export type Podman = (args: string[], guardMs: number) => Promise<Run>;

/** A podman with this machine's settings; conf is a folder for its containers.conf. */
export async function podman(confDir: string): Promise<Podman> {
  const conf = join(confDir, 'containers.conf');
  await writeFile(conf, '[containers]\ndefault_ulimits = []\n');
  return (args, guardMs) => run('podman', ['--runtime', 'runc', '--cgroup-manager=cgroupfs', ...args], { env: { CONTAINERS_CONF: conf }, guardMs });
}

/** Throws with the command's output unless it exited 0. */
export function mustSucceed(result: Run, what: string): Run {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  return result;
}
