// Every secret source the gateway reads root keys with, as `serve` and `secrets check` use them.
import type { SecretSource } from '../../schemas/formats/secret-source.ts';
import { type CloudSecretSourcesOptions, cloudSecretSources } from './cloud-sources.ts';
import { envSecretSource } from './env-source.ts';
import { fileSecretSource } from './file-source.ts';

/** env://, file:// and the three cloud stores (each loads its SDK on its first read). */
export function defaultSecretSources(cloud: CloudSecretSourcesOptions = {}): SecretSource[] {
  return [envSecretSource(), fileSecretSource(), ...cloudSecretSources(cloud)];
}
