// The admin listener (--admin-host/--admin-port): /healthz, /readyz (the detailed readiness: the
// active bundle, the last error, every secret reference) and /metrics, on an address the
// operator keeps private (the kubelet's probes, Prometheus). When it is set the API port serves
// only the model routes and a bare /healthz. Plain node:http: three GET routes need no framework,
// and nothing here is audited (no caller, no credential).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorObject } from '../errors.ts';

export interface AdminRoutes {
  /** /readyz's status and body (http/readyz.ts readinessAnswer; a fleet's primary asks its workers). */
  readiness(): Readiness | Promise<Readiness>;
  metrics: { contentType: string; render(): Promise<string> };
}

type Readiness = { status: number; body: Record<string, unknown> };

export interface AdminServer {
  /** http://host:port it listens on. */
  url: string;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

/** Handles one admin request; the URL's query string is ignored. */
export function adminHandler(routes: AdminRoutes): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 404, errorObject('MG_ROUTE_NOT_FOUND'));
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      void Promise.resolve(routes.readiness()).then(
        ({ status, body }) => json(res, status, body),
        () => json(res, 500, errorObject('MG_INTERNAL')),
      );
      return;
    }
    if (path === '/metrics') {
      routes.metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': routes.metrics.contentType });
          res.end(text);
        },
        () => json(res, 500, errorObject('MG_INTERNAL')),
      );
      return;
    }
    json(res, 404, errorObject('MG_ROUTE_NOT_FOUND'));
  };
}

/** Listens on host:port (0: a free one) with short deadlines: probes and scrapes are small. */
export async function startAdminServer(routes: AdminRoutes, host: string, port: number): Promise<AdminServer> {
  const server: Server = createServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, adminHandler(routes));
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
