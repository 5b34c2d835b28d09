// The cloud SDKs are optional peer dependencies: the versions the error message names are the ones
// package.json declares, a missing SDK fails with that message, and other load errors pass through.

import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonWarnings } from '../../bin/json-warnings.ts';
import { OPTIONAL_SDKS, sdkMissing } from '../../runtime/secrets/optional-sdk.ts';
import { SecretError } from '../../schemas/formats/secret-source.ts';

const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

describe('the optional secret store SDKs', () => {
  it('are the optional peer dependencies of package.json, at the same versions', () => {
    expect(pkg.peerDependencies).toEqual(OPTIONAL_SDKS);
    expect(Object.values(pkg.peerDependenciesMeta).every((m) => m.optional === true)).toBe(true);
  });

  it('when one is not installed, the read fails permanently and names the package and version to install', async () => {
    const error = await import('@aws-sdk/client-ssm-not-installed' as string).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
    const missing = Object.assign(new Error(String((error as Error).message).replace('@aws-sdk/client-ssm-not-installed', '@aws-sdk/client-ssm')), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(() => sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')(missing)).toThrow(SecretError);
    expect(() => sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')(missing)).toThrow(
      'aws-ssm:// references need the optional package @aws-sdk/client-ssm@3.1169.0, which is not installed: npm install @aws-sdk/client-ssm@3.1169.0',
    );
    try {
      sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')(missing);
    } catch (e) {
      expect((e as SecretError).reason).toBe('unsupported_scheme');
    }
  });

  it('when another module is missing, or the SDK fails otherwise, the error passes through', () => {
    const other = Object.assign(new Error("Cannot find package '@smithy/core'"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(() => sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')(other)).toThrow(other);
    const broken = new SyntaxError('bad');
    expect(() => sdkMissing('@aws-sdk/client-ssm', 'aws-ssm')(broken)).toThrow(broken);
  });
});

describe('process warnings of the gateway', () => {
  it('become one JSON line each on stderr, and Node no longer prints them as text', () => {
    const proc = Object.assign(new EventEmitter(), { written: [] as string[], stderr: { write: (t: string) => proc.written.push(t) } });
    const printed: unknown[] = [];
    proc.on('warning', (w) => printed.push(w)); // stands for Node's own printer
    jsonWarnings(proc as never);
    const warning = Object.assign(new Error('The AWS SDK for JavaScript (v3) will no longer support Node.js 20'), {
      name: 'NodeVersionSupportWarning',
      code: 'AWS_NODE',
    });
    proc.emit('warning', warning);
    expect(printed).toEqual([]);
    expect(proc.written).toHaveLength(1);
    expect(JSON.parse(proc.written[0]!)).toMatchObject({
      level: 'warn',
      service: 'modelgate',
      event: 'process_warning',
      warning: { name: 'NodeVersionSupportWarning', code: 'AWS_NODE' },
      msg: warning.message,
    });
  });
});
