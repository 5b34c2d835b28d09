// The three cloud secret stores as SecretSources, for one-line wiring into createSecretResolver:
//   createSecretResolver({ sources: [envSecretSource(), fileSecretSource(), ...cloudSecretSources()] })
// Each loads its SDK and builds its client on the first read of its scheme, so listing all three
// costs nothing for a gateway that uses none.

import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { type AwsSsmSourceOptions, createAwsSsmSecretSource } from './aws-ssm-source.ts';
import { type AzureKvSourceOptions, createAzureKvSecretSource } from './azure-kv-source.ts';
import { createGcpSmSecretSource, type GcpSmSourceOptions } from './gcp-sm-source.ts';

export interface CloudSecretSourcesOptions {
  aws?: AwsSsmSourceOptions;
  gcp?: GcpSmSourceOptions;
  azure?: AzureKvSourceOptions;
}

/** The aws-ssm, gcp-sm and azure-kv sources with production defaults (ambient credentials). */
export function cloudSecretSources(options: CloudSecretSourcesOptions = {}): SecretSource[] {
  return [createAwsSsmSecretSource(options.aws), createGcpSmSecretSource(options.gcp), createAzureKvSecretSource(options.azure)];
}
