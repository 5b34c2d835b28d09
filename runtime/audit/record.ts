// What the audit line of one request says, filled in along the request path.
// What goes in: identities by id (principal, key id), the decision and the rule that granted it,
// timings, usage, the bundle serial. What never goes in: keys, prompts, headers, query strings.
import type { Usage } from '../proxy/usage.ts';

export interface RequestRecord {
  requestId: string;
  method: string;
  /** The matched route pattern, never the raw URL (a query string may hold a pasted key). */
  route: string;
  startedMs: number;
  bundleSerial: number | null;
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
  account: string | null;
  decision: 'allow' | 'deny' | null;
  rule: string | null;
  denyReason: string | null;
  status: number;
  code: string | null;
  outcome: string | null;
  upstreamMs: number | null;
  usage: Usage | null;
  /** Whose error shape the gateway answers in: Anthropic's on its Messages routes, OpenAI's elsewhere. Not audited. */
  dialect: 'openai' | 'anthropic';
  /** Set once the request has ended (answer and audit line out, see http/ending.ts): it ends once. */
  ended: boolean;
}

/** A blank record for a request that just arrived. */
export function newRecord(requestId: string, method: string, route: string): RequestRecord {
  return {
    requestId,
    method,
    route,
    startedMs: performance.now(),
    bundleSerial: null,
    principal: null,
    principalId: null,
    credentialId: null,
    issuer: null,
    authReason: null,
    model: null,
    modelAlias: null,
    account: null,
    decision: null,
    rule: null,
    denyReason: null,
    status: 0,
    code: null,
    outcome: null,
    upstreamMs: null,
    usage: null,
    dialect: route.startsWith('/v1/messages') ? 'anthropic' : 'openai',
    ended: false,
  };
}
