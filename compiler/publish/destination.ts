// Where a bundle goes: the --to text parsed into one of three destinations (each its own file).
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLoopbackHost } from '../../schemas/formats/loopback.ts';
import type { Publishable } from './envelope.ts';
import type { Published } from './errors.ts';

export interface PublishResult {
  status: 'published' | 'unchanged';
  /** What the destination held before (null: nothing, or not readable for https:// without --current). */
  previous: Published | null;
  /** The path or URL runtimes poll (never with credentials), when the destination knows it. */
  pollUrl: string | null;
  /** Things worth a line of output: pruned files, a resumed publish, a newer bundle meanwhile. */
  notes: string[];
}

export interface Destination {
  /** How messages name the destination: no query string, no credentials. */
  readonly display: string;
  publish(bundle: Publishable): Promise<PublishResult>;
}

export type DestinationSpec = { kind: 'file'; dir: string } | { kind: 'github-release'; owner: string; repo: string } | { kind: 'https'; url: URL };

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

/** Parses --to; returns a problem (a usage error) instead of throwing. Never echoes a query string. */
export function parseDestination(text: string, cwd: string): DestinationSpec | { problem: string } {
  if (text.startsWith('file://')) {
    const rest = text.slice('file://'.length);
    if (rest === '') return { problem: '--to file:// needs a folder, like file:///srv/bundles or file://out/bundles' };
    // file:///abs/path is a URL; file://relative/path is read as a path relative to the working folder.
    if (rest.startsWith('/')) {
      try {
        return { kind: 'file', dir: fileURLToPath(text) };
      } catch {
        return { problem: `--to ${text} is not a valid file:// URL` };
      }
    }
    return { kind: 'file', dir: isAbsolute(rest) ? rest : resolve(cwd, rest) };
  }
  if (text.startsWith('github-release://')) {
    const [owner, repo, ...extra] = text.slice('github-release://'.length).split('/');
    if (
      owner === undefined ||
      repo === undefined ||
      extra.some((part) => part !== '') ||
      !OWNER.test(owner) ||
      !REPO.test(repo) ||
      repo === '.' ||
      repo === '..'
    ) {
      return { problem: '--to github-release:// needs OWNER/REPO, like github-release://acme/policy-bundles' };
    }
    return { kind: 'github-release', owner, repo };
  }
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { problem: '--to is not a valid URL' };
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      return { problem: '--to over plain http:// is only allowed to a loopback host (tests); use https://' };
    }
    return { kind: 'https', url };
  }
  return { problem: '--to must be file://DIR, github-release://OWNER/REPO or https://URL' };
}

/** A URL as it may be printed: presigned URLs carry credentials in the query, so it is replaced. */
export function redactUrl(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search === '' ? '' : '?[redacted]'}`;
}
