// What a request says about its caller, for the audit line and the upstream call: the request id
// (the caller's, when well-formed), the client address (X-Forwarded-For only from trusted
// proxies), and the W3C trace context. Every value is checked against a bounded grammar: a
// caller cannot put arbitrary text, or much of it, into the audit line or the provider's request.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's x-request-id when it is 1 to 128 of [A-Za-z0-9._:-], else a new UUID. */
export function requestIdFrom(headers: IncomingHttpHeaders): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** A parsed --trusted-proxies entry. */
export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8` or a bare address; null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** The trusted proxies as a matcher, or null when there are none (X-Forwarded-For is then ignored). */
export function trustedProxies(cidrs: readonly Cidr[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}

// An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: written (and matched) as a.b.c.d.
export const plainAddress = (address: string): string => (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address);

const isTrusted = (trusted: BlockList, address: string): boolean => trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** Hops of X-Forwarded-For looked at, from the right: a longer header is mostly what callers wrote. */
const MAX_HOPS = 16;

/**
 * The client's address: the socket's; when the socket is a trusted proxy, the last address of
 * X-Forwarded-For that is not itself a trusted proxy (the hops on the left are whatever the caller
 * wrote). Null when the socket has no address (already closed).
 */
export function clientAddress(remote: string | undefined, headers: IncomingHttpHeaders, trusted: BlockList | null): string | null {
  if (remote === undefined) return null;
  const socket = plainAddress(remote);
  if (trusted === null || !isTrusted(trusted, socket)) return socket;
  const header = headers['x-forwarded-for'];
  if (typeof header !== 'string') return socket;
  const hops = header.split(',', 1024);
  let client = socket;
  for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
    const hop = plainAddress((hops[i] as string).trim());
    if (isIP(hop) === 0) break; // garbage: stop at the last address we could read
    client = hop;
    if (!isTrusted(trusted, hop)) break;
  }
  return client;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;
const TRACESTATE_MEMBER = /^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** W3C trace context headers to pass upstream, validated; undefined when there is none. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/**
 * The caller's traceparent (and tracestate) when valid per W3C Trace Context: version 00 exactly
 * as specified, a later version by its known prefix; all-zero ids and version ff are invalid.
 * An invalid traceparent drops tracestate too (the spec's rule); an invalid tracestate is dropped alone.
 */
export function traceContextFrom(headers: IncomingHttpHeaders): TraceContext | undefined {
  const parent = headers.traceparent;
  if (typeof parent !== 'string' || parent.length > 512) return undefined;
  const match = TRACEPARENT.exec(parent);
  if (match === null) return undefined;
  const [, version, traceId, parentId, rest] = match;
  if (version === 'ff' || /^0+$/.test(traceId as string) || /^0+$/.test(parentId as string)) return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  // A future version: only the part this version defines is passed on.
  const context: TraceContext = { traceparent: version === '00' ? parent : parent.slice(0, 55) };
  const state = headers.tracestate;
  if (typeof state === 'string' && state.length <= 512) {
    const members = state
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    if (members.length > 0 && members.length <= 32 && members.every((m) => TRACESTATE_MEMBER.test(m))) context.tracestate = members.join(',');
  }
  return context;
}
