// The model routes (POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses;
// Anthropic's /v1/messages and /v1/messages/count_tokens) and how a request
// to one of them is served once admitted and its body read. Both front ends use this module: the
// plain node:http handler (plain-front-end.ts) and Fastify (server.ts), so they answer alike.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Admitted, Pipeline } from '../pipeline.ts';
import type { Operation } from '../providers/provider.ts';
import type { RequestEnding } from './request-ending.ts';

/** The model routes' plain paths and the operation each one forwards. */
export const MODEL_ROUTES: ReadonlyArray<readonly [path: string, operation: Operation]> = [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/responses', 'responses'],
  ['/v1/messages', 'messages'],
  ['/v1/messages/count_tokens', 'count_tokens'],
];

export interface ModelRouteOptions {
  pipeline: Pipeline;
  ending: RequestEnding;
  logger: Logger;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
}

/**
 * Steps 2 to 5 on a read body (pipeline.infer), and the error answer when it stops before
 * forwarding. Never rejects: a bug is a logged 500 (or a cut response once headers are out).
 */
export async function serveModelRoute(
  options: ModelRouteOptions,
  admitted: Admitted,
  operation: Operation,
  body: Buffer | undefined,
  requestId: string,
  res: ServerResponse,
): Promise<void> {
  const { ending } = options;
  try {
    const refusal = await options.pipeline.infer(admitted, operation, body, requestId, res);
    if (typeof refusal === 'string') ending.error(res, admitted.record, refusal);
    else if (refusal !== undefined) ending.error(res, admitted.record, refusal.code, false, refusal.message);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    options.logger.error({ request_id: requestId, error_code: typeof code === 'string' ? code : null }, 'internal error');
    if (res.headersSent) res.destroy();
    ending.error(res, admitted.record, 'MG_INTERNAL');
  }
}
