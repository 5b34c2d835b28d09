// Secret references: where a provider's root key lives. Parsed the same way by `modelgate check`
// and by the runtime's resolvers, so a reference that passes check is one the runtime can read.

export type SecretRef =
  | { scheme: 'aws-ssm'; name: string; region: string }
  | { scheme: 'gcp-sm'; project: string; secret: string; version: string }
  | { scheme: 'azure-kv'; vault: string; secret: string; version?: string }
  | { scheme: 'env'; variable: string }
  | { scheme: 'file'; path: string };

export type SecretRefProblem = { code: 'MG_SECRET_UNKNOWN_SCHEME' | 'MG_SECRET_MALFORMED' | 'MG_SECRET_LITERAL'; message: string; hint: string };

export const SECRET_SCHEMES = ['aws-ssm', 'gcp-sm', 'azure-kv', 'env', 'file'] as const;

const FORMS: Record<(typeof SECRET_SCHEMES)[number], string> = {
  'aws-ssm': 'aws-ssm:///NAME?region=REGION',
  'gcp-sm': 'gcp-sm://projects/PROJECT/secrets/SECRET/versions/VERSION',
  'azure-kv': 'azure-kv://VAULT/SECRET[?version=VERSION]',
  env: 'env://VARIABLE',
  file: 'file:///absolute/path',
};

/** Parses a reference. Messages never repeat the value: a mistake here may be a pasted key. */
export function parseSecretRef(text: string): SecretRef | SecretRefProblem {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(text)?.[1];
  if (scheme === undefined) {
    return looksLikeLiteralSecret(text)
      ? {
          code: 'MG_SECRET_LITERAL',
          message: 'the secret field holds what looks like a literal key, not a reference',
          hint: 'remove the key from git history, rotate it, store it in a secret manager and reference it, like aws-ssm:///prod/llm/openai?region=us-east-1',
        }
      : { code: 'MG_SECRET_UNKNOWN_SCHEME', message: 'the secret reference has no scheme', hint: `use one of ${Object.values(FORMS).join(', ')}` };
  }
  const rest = text.slice(scheme.length + 3);
  const malformed = (s: keyof typeof FORMS): SecretRefProblem => ({
    code: 'MG_SECRET_MALFORMED',
    message: `the ${s} reference does not have the form ${FORMS[s]}`,
    hint: `write it as ${FORMS[s]}`,
  });
  switch (scheme) {
    case 'aws-ssm': {
      const m = /^(\/[A-Za-z0-9_.\-/]+)\?region=([a-z]{2}(-[a-z]+)+-\d)$/.exec(rest);
      return m ? { scheme: 'aws-ssm', name: m[1] as string, region: m[2] as string } : malformed('aws-ssm');
    }
    case 'gcp-sm': {
      const m = /^projects\/([a-z0-9-]+)\/secrets\/([A-Za-z0-9_-]+)\/versions\/(latest|\d+)$/.exec(rest);
      return m ? { scheme: 'gcp-sm', project: m[1] as string, secret: m[2] as string, version: m[3] as string } : malformed('gcp-sm');
    }
    case 'azure-kv': {
      const m = /^([A-Za-z0-9-]{3,24})\/([A-Za-z0-9-]{1,127})(?:\?version=([0-9a-f]{32}))?$/.exec(rest);
      if (!m) return malformed('azure-kv');
      return m[3]
        ? { scheme: 'azure-kv', vault: m[1] as string, secret: m[2] as string, version: m[3] }
        : { scheme: 'azure-kv', vault: m[1] as string, secret: m[2] as string };
    }
    case 'env': {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)$/.exec(rest);
      return m ? { scheme: 'env', variable: m[1] as string } : malformed('env');
    }
    case 'file': {
      const m = /^(\/[^?#]*[^/?#])$/.exec(rest);
      return m ? { scheme: 'file', path: m[1] as string } : malformed('file');
    }
    default:
      return {
        code: 'MG_SECRET_UNKNOWN_SCHEME',
        message: `the secret reference uses the unknown scheme "${scheme}"`,
        hint: `use one of ${Object.values(FORMS).join(', ')}`,
      };
  }
}

export function isSecretRefProblem(value: SecretRef | SecretRefProblem): value is SecretRefProblem {
  return 'code' in value;
}

// Shapes of real provider and cloud credentials, for catching a pasted key anywhere in a provider file.
const KEY_SHAPES = [
  /\bsk-(proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/, // OpenAI
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key id
  /\bAIza[0-9A-Za-z_-]{35}\b/, // Google API key
  /\bgh[pousr]_[A-Za-z0-9]{36}\b/, // GitHub token
  /\bmg_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}\b/, // our own API keys
  /\b[0-9a-f]{32}\b/, // Azure OpenAI keys are 32 hex chars
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

/** True when text looks like a credential rather than a name or a reference. */
export function looksLikeLiteralSecret(text: string): boolean {
  if (KEY_SHAPES.some((re) => re.test(text))) return true;
  // A long unbroken token mixing letters and digits is a key, not a name.
  return /^[A-Za-z0-9_\-+/=.]{24,}$/.test(text) && /[0-9]/.test(text) && /[A-Za-z]/.test(text);
}

/** True when a string inside a provider file contains something shaped like a known credential. */
export function containsKnownKeyShape(text: string): boolean {
  return KEY_SHAPES.some((re) => re.test(text)) || /:\/\/[^/@\s]+:[^/@\s]+@/.test(text) || /[?&](api[-_]?key|key|token|sig)=/i.test(text);
}
