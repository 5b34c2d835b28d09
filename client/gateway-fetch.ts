// A fetch for the openai SDK (or any HTTP client) that authenticates to the gateway with a token
// from a TokenSource and, when the gateway answers 401 (token revoked or expired early), gets a
// fresh token and retries once.
import type { TokenSource } from './token-source.ts';

/** `new OpenAI({ baseURL, apiKey: 'oidc', fetch: gatewayFetch(source) })` */
export function gatewayFetch(source: TokenSource, baseFetch: typeof fetch = fetch): typeof fetch {
  const send = async (input: Request | string | URL, init: RequestInit | undefined, token: string): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    headers.set('authorization', `Bearer ${token}`);
    headers.delete('x-api-key');
    return baseFetch(input, { ...init, headers });
  };
  return async (input, init) => {
    const first = await send(input, init, await source.getToken());
    if (first.status !== 401 || !replayable(input, init)) return first;
    await first.body?.cancel();
    source.invalidate();
    return send(input, init, await source.getToken());
  };
}

// A streamed request body is consumed by the first attempt and cannot be sent twice.
function replayable(input: Request | string | URL, init: RequestInit | undefined): boolean {
  if (input instanceof Request && input.body !== null && init?.body === undefined) return false;
  const body = init?.body;
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData
  );
}
