// A local stand-in for the GitHub REST API on 127.0.0.1, spoken to by the real @octokit/rest client
// (baseUrl = this server's url). Tests compose it from route tables (directory, comments, releases),
// each owning its own state; this file only does HTTP, token auth, pagination and the request log.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubRequest {
  method: string;
  /** Path without the query string, percent-decoded per segment. */
  path: string;
  query: URLSearchParams;
  /** Capture groups of the route's pattern. */
  params: string[];
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** http://127.0.0.1:PORT, for absolute URLs in replies (Link headers, upload_url, download URLs). */
  baseUrl: string;
}

export interface GitHubReply {
  status: number;
  /** JSON-encoded unless it is a Buffer (sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface GitHubRoute {
  method: string;
  /** Matched against the whole path, e.g. /^\/users\/([^/]+)$/. */
  pattern: RegExp;
  handle(request: GitHubRequest): GitHubReply | Promise<GitHubReply>;
  /** Answered without a token, like github.com's web routes (public release downloads). */
  anonymous?: boolean;
}

export interface GitHubApi {
  url: string;
  /** Every request seen, in order (method and path with query). */
  requests: string[];
  /** Set to false to answer every request with 503, as if GitHub were down. */
  up: boolean;
  close(): Promise<void>;
}

export interface GitHubApiOptions {
  /** The token Octokit must present (`authorization: token X` or `Bearer X`); any when unset. */
  token?: string;
}

export async function startGitHubApi(routes: readonly GitHubRoute[], options: GitHubApiOptions = {}): Promise<GitHubApi> {
  const api: GitHubApi = { url: '', requests: [], up: true, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void answer(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then((reply) => {
        const headers: Record<string, string> = { ...reply.headers };
        let payload: Buffer | undefined;
        if (Buffer.isBuffer(reply.body)) payload = reply.body;
        else if (reply.body !== undefined) {
          payload = Buffer.from(JSON.stringify(reply.body));
          headers['content-type'] ??= 'application/json; charset=utf-8';
        }
        res.writeHead(reply.status, headers);
        res.end(payload);
      });
    });
  });

  async function answer(method: string, rawUrl: string, headers: IncomingHttpHeaders, body: Buffer): Promise<GitHubReply> {
    api.requests.push(`${method} ${rawUrl}`);
    if (!api.up) return { status: 503, body: { message: 'Service Unavailable' } };
    const url = new URL(rawUrl, api.url);
    const path = url.pathname
      .split('/')
      .map((segment) => decodeURIComponent(segment))
      .join('/');
    const presented = /^(?:token|bearer) (.+)$/i.exec(headers.authorization ?? '')?.[1];
    const authorized = options.token === undefined || presented === options.token;
    for (const route of routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(path);
      if (match === null) continue;
      if (!authorized && route.anonymous !== true) return badCredentials();
      try {
        return await route.handle({ method, path, query: url.searchParams, params: match.slice(1), headers, body, baseUrl: api.url });
      } catch (error) {
        return { status: 500, body: { message: `stand-in route failed: ${(error as Error).message}` } };
      }
    }
    return authorized ? notFound() : badCredentials();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return api;
}

function badCredentials(): GitHubReply {
  return { status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } };
}

export function notFound(): GitHubReply {
  return { status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } };
}

/** One page of `items` as GitHub pages them (per_page, page), with an absolute Link header. */
export function paginate(request: GitHubRequest, items: readonly unknown[], defaultPerPage = 30): GitHubReply {
  const perPage = Math.min(100, Math.max(1, Number(request.query.get('per_page') ?? defaultPerPage) || defaultPerPage));
  const page = Math.max(1, Number(request.query.get('page') ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const links: string[] = [];
  const link = (n: number, rel: string): string => {
    const query = new URLSearchParams(request.query);
    query.set('per_page', String(perPage));
    query.set('page', String(n));
    return `<${request.baseUrl}${request.path}?${query.toString()}>; rel="${rel}"`;
  };
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
  return { status: 200, body: items.slice((page - 1) * perPage, page * perPage), headers: links.length > 0 ? { link: links.join(', ') } : {} };
}
