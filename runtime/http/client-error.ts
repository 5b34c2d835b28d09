// Errors of a connection rather than of a route: Node's HTTP parser refusing a request (400, 431),
// and the receive deadlines (--header-timeout, --request-timeout: 408). Node reports them as the
// server's 'clientError'; they are answered here through the request ending, in our shape with
// x-request-id and an audit line, instead of Node's or Fastify's bodies. A request whose response
// object exists (its headers were read, its body was not, in time) is answered and audited as
// that request; otherwise the connection gets a raw answer and an audit line of its own.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { newRecord, type RequestRecord } from '../audit/record.ts';
import type { RuntimeErrorCode } from '../errors.ts';
import { plainAddress } from './caller-info.ts';
import type { RequestEnding } from './request-ending.ts';

// The record of the request a response answers, set by the front end that took the request: a
// property on the response, not a closure or a map entry per request.
const kRecord = Symbol('modelgate.record');
type Carrier = ServerResponse & { [kRecord]?: RequestRecord };

/** Remembers which record res answers, for a deadline that passes while its body is read. */
export function attachRecord(res: ServerResponse, record: RequestRecord): void {
  (res as Carrier)[kRecord] = record;
}

/** The route name audit lines use for a connection error that no request was read for. */
export const CLIENT_ERROR_ROUTE = 'client_error';

/** Our code for an error Node's HTTP server reports on a connection. */
export function clientErrorCode(nodeCode: string | undefined): RuntimeErrorCode {
  if (nodeCode === 'ERR_HTTP_REQUEST_TIMEOUT') return 'MG_REQUEST_TIMEOUT';
  if (nodeCode === 'HPE_HEADER_OVERFLOW') return 'MG_HEADERS_TOO_LARGE';
  return 'MG_BAD_HTTP';
}

/** The server's 'clientError' listener (Fastify's clientErrorHandler option). */
export function createClientErrorHandler(ending: RequestEnding): (error: Error & { code?: string }, socket: Duplex) => void {
  return (error, socket) => {
    // A reset connection has nobody to answer to.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code = clientErrorCode(error.code);
    // The response in flight on this connection, as Node's own handler finds it.
    const res = (socket as Duplex & { _httpMessage?: Carrier | null })._httpMessage ?? undefined;
    if (res === undefined) {
      // No request could be read: the socket's address is all there is to say who it was.
      const record = newRecord(randomUUID(), '-', CLIENT_ERROR_ROUTE);
      const remote = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
      record.clientIp = remote === undefined ? null : plainAddress(remote);
      return ending.errorOnSocket(socket, record, code);
    }
    const record = res[kRecord];
    // A request that was read whole is being served (the error is about a pipelined next one, or
    // the answer is under way): its own path ends it, seeing the connection close.
    if (res.headersSent || record?.ended === true || res.req?.complete !== false) return void socket.destroy();
    // Connection: close, so Node closes the socket once the answer is out: the rest of the
    // request may never come.
    ending.error(res, record ?? newRecord(randomUUID(), res.req?.method ?? '-', CLIENT_ERROR_ROUTE), code, true);
  };
}
