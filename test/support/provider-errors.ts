// A local OpenAI-shaped upstream that answers every chat completion with a provider error, chosen
// by the model name, with the status and body OpenAI and Azure OpenAI send for it (bodies as the
// providers document and send them; the Azure content filter with its innererror details). It
// records what it received and checks the bearer key it expects.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProviderError {
  status: number;
  body: { error: Record<string, unknown> };
  headers?: Record<string, string>;
}

/** The errors by model name (the model as the provider receives it). */
export const PROVIDER_ERRORS: Record<string, ProviderError> = {
  'context-too-long': {
    status: 400,
    body: {
      error: {
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    },
  },
  'rate-limit': {
    status: 429,
    body: {
      error: {
        message:
          'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.',
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
      },
    },
    headers: { 'retry-after': '2', 'x-ratelimit-remaining-tokens': '1000' },
  },
  'no-quota': {
    status: 429,
    body: {
      error: {
        message: 'You exceeded your current quota, please check your plan and billing details.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      },
    },
  },
  filtered: {
    status: 400,
    body: {
      error: {
        message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: { hate: { filtered: false, severity: 'safe' }, violence: { filtered: true, severity: 'medium' } },
        },
      },
    },
  },
  'no-max-tokens': {
    status: 400,
    body: {
      error: {
        message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: 'unsupported_parameter',
      },
    },
  },
  'overloaded-text': { status: 503, body: { error: {} } },
};

export interface ErrorUpstream {
  url: string;
  received: string[];
  close(): Promise<void>;
}

/** Starts the upstream on 127.0.0.1; `key` is the bearer it expects (echoed in one message, to be redacted). */
export async function startErrorUpstream(key: string): Promise<ErrorUpstream> {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const model = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: unknown }).model);
      received.push(model);
      if (req.headers.authorization !== `Bearer ${key}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }),
        );
      }
      // A plain-text error from a proxy in front of the provider, the root key echoed in it.
      if (model === 'overloaded-text') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        return res.end(`upstream overloaded (request authorized with Bearer ${key})`);
      }
      // The root key echoed inside an OpenAI-shaped body, in the message and in a nested detail.
      if (model === 'leaky-json') {
        res.writeHead(400, { 'content-type': 'application/json' });
        const body = {
          error: { message: `bad request with key ${key}`, type: 'invalid_request_error', param: null, code: 'bad_key_echo', detail: { seen: [key] } },
        };
        return res.end(JSON.stringify(body));
      }
      const error = PROVIDER_ERRORS[model] ?? {
        status: 404,
        body: { error: { message: `The model ${model} does not exist`, type: 'invalid_request_error', param: null, code: 'model_not_found' } },
      };
      res.writeHead(error.status, { 'content-type': 'application/json', ...error.headers });
      res.end(JSON.stringify(error.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
