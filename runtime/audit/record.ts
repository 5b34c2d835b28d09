// What the audit line of one request says, filled in along the request path.
// What goes in: identities by id (principal, key id), the decision and the rule that granted it,
// timings, usage, the bundle serial. What never goes in: keys, prompts, headers, query strings.
import type { BundleHolds } from '../bundle/holds.ts';
import type { LimitTicket } from '../limits/limiter.ts';
import type { Usage } from '../proxy/usage.ts';

export interface RequestRecord {
  requestId: string;
  method: string;
  /** The matched route pattern, never the raw URL (a query string may hold a pasted key). */
  route: string;
  startedMs: number;
  /** The caller's address: the socket's, or X-Forwarded-For's when the socket is a trusted proxy. */
  clientIp: string | null;
  /** The User-Agent header, bounded when written. */
  userAgent: string | null;
  bundleSerial: number | null;
  /** The policy commit the active bundle was compiled from. */
  revision: string | null;
  principal: string | null;
  principalId: string | null;
  /** API key id, or the OIDC token's subject (never the credential). */
  credentialId: string | null;
  /** The OIDC issuer of the token, for token-authenticated requests. */
  issuer: string | null;
  authReason: string | null;
  /** The model's FQN (the alias resolved), as the caller sent it otherwise. */
  model: string | null;
  /** The alias the caller sent, when the model was named by one. */
  modelAlias: string | null;
  /** model is an FQN of the active bundle (the only model values metrics take as labels). */
  knownModel: boolean;
  account: string | null;
  /** The caller asked for a stream ("stream": true); null before the body was read. */
  stream: boolean | null;
  decision: 'allow' | 'deny' | null;
  rule: string | null;
  /** The granting rule's stable id (its `id:`, else a hash of its content). */
  ruleId: string | null;
  /** The team through which the grant came, when it did not name the principal directly. */
  via: string | null;
  denyReason: string | null;
  status: number;
  code: string | null;
  outcome: string | null;
  upstreamMs: number | null;
  /** Streams: from the request to the first body byte of the provider's answer. */
  ttftMs: number | null;
  usage: Usage | null;
  /** The limit that refused the request (docs/limits.md): its id and the field that was reached. */
  limit: { id: string; reason: string } | null;
  /** Taken from the request's limits, settled when the request ends (http/request-ending.ts). Not audited. */
  limitTicket: LimitTicket | null;
  /** Whose error shape the gateway answers in: Anthropic's on its Messages routes, OpenAI's elsewhere. Not audited. */
  dialect: 'openai' | 'anthropic';
  /** Counted in the in-flight gauge (admitted to the pipeline), uncounted at the end. */
  inFlight: boolean;
  /** Set once the request has ended (answer and audit line out, see http/ending.ts): it ends once. */
  ended: boolean;
  /** The holds of the bundle the request started on, given back at its ending (bundle/holds.ts). Not audited. */
  bundleHolds: BundleHolds | null;
}

/** A blank record for a request that just arrived. */
export function newRecord(requestId: string, method: string, route: string): RequestRecord {
  return {
    requestId,
    method,
    route,
    startedMs: performance.now(),
    clientIp: null,
    userAgent: null,
    bundleSerial: null,
    revision: null,
    principal: null,
    principalId: null,
    credentialId: null,
    issuer: null,
    authReason: null,
    model: null,
    modelAlias: null,
    knownModel: false,
    account: null,
    stream: null,
    decision: null,
    rule: null,
    ruleId: null,
    via: null,
    denyReason: null,
    status: 0,
    code: null,
    outcome: null,
    upstreamMs: null,
    ttftMs: null,
    usage: null,
    limit: null,
    limitTicket: null,
    dialect: route.startsWith('/v1/messages') ? 'anthropic' : 'openai',
    inFlight: false,
    ended: false,
    bundleHolds: null,
  };
}
