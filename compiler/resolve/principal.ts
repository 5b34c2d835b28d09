// How key records and the CLI name a principal: `alice` is a user, `service:llmapp1` a service.
// Identity lock pins and plan snapshots key principals as `user:alice` / `service:llmapp1`.

export type PrincipalKind = 'user' | 'service';

const SERVICE = 'service:';
const USER = 'user:';

/** Splits `alice` / `service:llmapp1` into kind and name. */
export function parsePrincipal(text: string): { kind: PrincipalKind; name: string } {
  return text.startsWith(SERVICE) ? { kind: 'service', name: text.slice(SERVICE.length) } : { kind: 'user', name: text };
}

/** The inverse of parsePrincipal: `alice` / `service:llmapp1`. */
export function principalText(kind: PrincipalKind, name: string): string {
  return kind === 'service' ? `${SERVICE}${name}` : name;
}

/** The kind-qualified key of pins and indexes: `user:alice` / `service:llmapp1`. */
export function principalKey(kind: PrincipalKind, name: string): string {
  return kind === 'service' ? `${SERVICE}${name}` : `${USER}${name}`;
}

/** Splits a principalKey back into kind and name. */
export function parsePrincipalKey(key: string): { kind: PrincipalKind; name: string } {
  return key.startsWith(SERVICE) ? { kind: 'service', name: key.slice(SERVICE.length) } : { kind: 'user', name: key.slice(USER.length) };
}
