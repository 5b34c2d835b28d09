// Every audited request ends here, whatever its front end (the plain node:http handler or Fastify)
// and its exit path: an answer the gateway makes itself leaves with the same headers every time,
// and the request's one audit line and metrics are written with it. The relay writes a provider's
// answer itself, as it arrives, and ends the request here once that answer is over. Answering and
// auditing are one call, so an exit path cannot do one and forget the other; a request ends once
// (a second ending writes nothing).
import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestRecord } from '../audit/record.ts';
import { writeAudit } from '../audit/write-audit.ts';
import { errorBody, errorObject, type RuntimeErrorCode, statusOf } from '../errors.ts';
import type { RuntimeMetrics } from '../metrics/runtime-metrics.ts';
import { anthropicErrorBody } from './anthropic-errors.ts';

function bodyOf(record: RequestRecord, code: RuntimeErrorCode, message?: string): string {
  if (record.dialect === 'anthropic') return anthropicErrorBody(code, message);
  return message === undefined ? errorBody(code) : JSON.stringify(errorObject(code, message));
}

/** Headers an answer adds to the gateway's own (a provider's rate-limit hints). */
export type ExtraHeaders = Record<string, string | number>;

// What Fastify's reply.send() writes for a JSON string, so that both front ends answer alike.
const JSON_UTF8 = 'application/json; charset=utf-8';
/**
 * The gateway's classification of an error answer (its MG_ code), beside a body that may be the
 * provider's own: clients branch on the body's code as they would without the gateway, operators
 * on this header.
 */
export const ERROR_HEADER = 'x-modelgate-error';

/** Ends requests: writes the gateway's own answers and the audit line. One per server. */
export class RequestEnding {
  constructor(
    private readonly audit: AuditLog,
    private readonly metrics: RuntimeMetrics,
  ) {}

  /**
   * Answers a runtime error in the route's shape (OpenAI's, or Anthropic's on its Messages routes)
   * with its table status, and audits the request. closeConnection: see answer(). message, when
   * given, replaces the table's (bounded and free of secrets by the caller).
   */
  error(res: ServerResponse, record: RequestRecord, code: RuntimeErrorCode, closeConnection = false, message?: string): void {
    this.answer(res, record, statusOf(code), code, bodyOf(record, code, message), undefined, closeConnection);
  }

  /**
   * Answers a JSON body the gateway made, with status (and code, for the audit line; null for a
   * success), and audits the request. After a request body that could not be read (too large,
   * broken) closeConnection closes the connection, as Fastify does: the rest of that body may
   * still be on its way. extra, when given, becomes the header set (completed in place: no second
   * object). Nothing is written to a response already started or gone.
   */
  answer(
    res: ServerResponse,
    record: RequestRecord,
    status: number,
    code: RuntimeErrorCode | null,
    body: string,
    extra?: ExtraHeaders,
    closeConnection = false,
  ): void {
    if (record.ended) return;
    record.status = status;
    record.code = code;
    this.end(record);
    if (res.headersSent || res.destroyed) return;
    const headers = extra ?? {};
    headers['content-type'] = JSON_UTF8;
    headers['x-request-id'] = record.requestId;
    headers['content-length'] = Buffer.byteLength(body);
    if (code !== null) headers[ERROR_HEADER] = code;
    if (closeConnection) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(body);
  }

  /**
   * Answers a runtime error straight on a connection that has no response object (Node's HTTP
   * parser refused the request, or it timed out before one existed), with the same headers as
   * answer() and the connection closed, and audits it. Nothing is written to a socket that is
   * not writable.
   */
  errorOnSocket(socket: Duplex, record: RequestRecord, code: RuntimeErrorCode): void {
    if (record.ended) return;
    const status = statusOf(code);
    record.status = status;
    record.code = code;
    this.end(record);
    if (!socket.writable) return void socket.destroy();
    const body = bodyOf(record, code);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: ${JSON_UTF8}\r\nx-request-id: ${record.requestId}\r\n${ERROR_HEADER}: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  /** Ends a request whose answer the relay wrote (status, outcome, code and usage already in record). */
  relayed(record: RequestRecord): void {
    if (!record.ended) this.end(record);
  }

  private end(record: RequestRecord): void {
    record.ended = true;
    // The request's concurrency lease is freed and its token reservation corrected here, at its one ending.
    if (record.limitTicket !== null) record.limitTicket.settle(record);
    writeAudit(this.audit, this.metrics, record);
    // Nothing reads the bundle's tables for an ended request: a replaced bundle may go now.
    record.bundleHolds?.give();
    record.bundleHolds = null;
  }
}
