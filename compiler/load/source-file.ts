/** A policy file as read from disk: path relative to the policy folder (forward slashes) and its text. */
export interface SourceFile {
  path: string;
  text: string;
}

export type DocumentKind = 'provider' | 'authz' | 'limits' | 'directory' | 'key' | 'gateway' | 'lock';

export const LOCK_FILE = 'identities.lock.yaml';

/** What a file is, from where it sits in the policy folder; null for files modelgate does not read. */
export function classify(path: string): DocumentKind | null {
  if (!/\.ya?ml$/.test(path)) return null;
  if (/^providers\/[^/]+\.ya?ml$/.test(path)) return 'provider';
  if (/^authz\.ya?ml$/.test(path) || /^authz\/.+\.ya?ml$/.test(path)) return 'authz';
  if (/^limits\/.+\.ya?ml$/.test(path)) return 'limits';
  if (/^keys\/[^/]+\.ya?ml$/.test(path)) return 'key';
  if (/^directory\.ya?ml$/.test(path)) return 'directory';
  if (/^gateway\.ya?ml$/.test(path)) return 'gateway';
  if (path === LOCK_FILE) return 'lock';
  return null;
}

/** The file name without folder and .yaml/.yml extension. */
export function baseName(path: string): string {
  return path.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
}
