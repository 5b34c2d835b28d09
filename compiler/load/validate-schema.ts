// Policy files against schemas/*.schema.json, with every ajv error mapped back to its YAML node.
import type { ErrorObject } from 'ajv';
import { createAjv } from '../../schemas/ajv.ts';
import authzSchema from '../../schemas/authz.schema.json' with { type: 'json' };
import directorySchema from '../../schemas/directory.schema.json' with { type: 'json' };
import gatewaySchema from '../../schemas/gateway.schema.json' with { type: 'json' };
import keySchema from '../../schemas/key.schema.json' with { type: 'json' };
import limitsSchema from '../../schemas/limits.schema.json' with { type: 'json' };
import lockSchema from '../../schemas/lock.schema.json' with { type: 'json' };
import providerSchema from '../../schemas/provider.schema.json' with { type: 'json' };
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.ts';
import { didYouMean } from '../diagnostics/suggest.ts';
import type { JsonPath, ParsedYaml } from './parse-yaml.ts';
import type { DocumentKind } from './source-file.ts';

const ajv = createAjv({ allErrors: true, verbose: true });
const validators = {
  provider: ajv.compile(providerSchema),
  authz: ajv.compile(authzSchema),
  limits: ajv.compile(limitsSchema),
  directory: ajv.compile(directorySchema),
  key: ajv.compile(keySchema),
  gateway: ajv.compile(gatewaySchema),
  lock: ajv.compile(lockSchema),
} satisfies Record<DocumentKind, unknown>;

const KIND_LABEL: Record<DocumentKind, string> = {
  provider: 'provider account',
  authz: 'authz file',
  limits: 'limits file',
  directory: 'directory',
  key: 'key record',
  gateway: 'gateway.yaml',
  lock: 'lock file',
};

/** Validates a parsed document against its schema; an empty list means it is valid. */
export function validateSchema(kind: DocumentKind, doc: ParsedYaml): Diagnostic[] {
  const validate = validators[kind];
  if (validate(doc.data)) return [];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const error of validate.errors ?? []) {
    const mapped = mapError(kind, doc, error);
    if (mapped === null) continue;
    const key = `${mapped.line}:${mapped.col}:${mapped.code}:${mapped.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(mapped);
    }
  }
  return out;
}

function mapError(kind: DocumentKind, doc: ParsedYaml, error: ErrorObject): Diagnostic | null {
  const path = pointerToPath(error.instancePath);
  const field = describe(path, kind);
  switch (error.keyword) {
    case 'if':
      return null; // the failing "then" branch reports the concrete problem
    case 'additionalProperties': {
      const name = String((error.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const suggestion = didYouMean(name, known);
      return diagnostic(
        'MG_SCHEMA_UNKNOWN_FIELD',
        doc.file,
        doc.locate([...path, name], true),
        `unknown field "${name}" in ${field}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
        known.length > 0 ? `allowed fields: ${known.join(', ')}` : undefined,
      );
    }
    case 'required': {
      const name = String((error.params as { missingProperty: string }).missingProperty);
      return diagnostic('MG_SCHEMA_MISSING_FIELD', doc.file, doc.locate(path), `${field} is missing the required field "${name}"`);
    }
    case 'type': {
      const expected = String((error.params as { type: string | string[] }).type);
      return diagnostic('MG_SCHEMA_WRONG_TYPE', doc.file, doc.locate(path), `${field} must be ${article(expected)}, not ${typeName(error.data)}`);
    }
    case 'minItems':
      if ((kind === 'authz' || kind === 'limits') && path[path.length - 1] === 'models') {
        return diagnostic(
          'MG_EMPTY_MODELS',
          doc.file,
          doc.locate(path),
          `this ${kind === 'limits' ? 'limit' : 'rule'} has an empty models list; an empty list never means "all models"`,
          'list the models (account/model or a glob like "account/*")',
        );
      }
      return diagnostic('MG_SCHEMA_INVALID_VALUE', doc.file, doc.locate(path), `${field} must not be empty`);
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const suggestion = typeof error.data === 'string' ? didYouMean(error.data, allowed) : undefined;
      // A mistyped per would change who shares a bucket; it gets its own code.
      const code = kind === 'limits' && path[path.length - 1] === 'per' ? 'MG_LIMIT_PER_INVALID' : 'MG_SCHEMA_INVALID_VALUE';
      return diagnostic(
        code,
        doc.file,
        doc.locate(path),
        `${field} must be one of ${allowed.join(', ')}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
      );
    }
    case 'format': {
      const format = String((error.params as { format: string }).format);
      const what = format.endsWith('-lifetime') ? 'a duration within the allowed bound' : `a valid ${format}`;
      return diagnostic('MG_SCHEMA_INVALID_VALUE', doc.file, doc.locate(path), `${field} must be ${what}`, formatHint(format));
    }
    case 'pattern':
      // The value is not echoed: a mistyped field could hold a secret.
      return diagnostic(
        'MG_SCHEMA_INVALID_VALUE',
        doc.file,
        doc.locate(path),
        `${field} does not have the expected form (${String((error.params as { pattern: string }).pattern)})`,
      );
    default:
      return diagnostic('MG_SCHEMA_INVALID_VALUE', doc.file, doc.locate(path), `${field} ${error.message ?? 'is invalid'}`);
  }
}

function pointerToPath(pointer: string): JsonPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(path: JsonPath, kind: DocumentKind): string {
  if (path.length === 0) return `the ${KIND_LABEL[kind]}`;
  const parts: string[] = [];
  for (const segment of path) {
    if (typeof segment === 'number') parts.push(`[${segment}]`);
    else parts.push(parts.length === 0 ? segment : `.${segment}`);
  }
  return `"${parts.join('')}"`;
}

function article(type: string): string {
  const names: Record<string, string> = {
    array: 'a list',
    object: 'a mapping',
    string: 'a string',
    boolean: 'true or false',
    integer: 'an integer',
    number: 'a number',
  };
  return type
    .split(',')
    .map((t) => names[t] ?? t)
    .join(' or ');
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

function formatHint(format: string): string | undefined {
  if (format === 'date-time') return 'use RFC 3339 with a zone, like 2027-01-31T00:00:00Z';
  if (format === 'bundle-lifetime')
    return 'a whole number of minutes, hours or days (like 7d, 36h, 90m), at most 366d: CI re-signs on a schedule, so keep it to days';
  if (format === 'key-lifetime') return 'a whole number of minutes, hours or days (like 90d), at most 730d';
  return undefined;
}
