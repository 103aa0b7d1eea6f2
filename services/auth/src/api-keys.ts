import { hash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'sbk_';

/** A new API key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** How a key is stored and looked up: `sha256:<hex>`. The key itself is never stored. */
export function hashApiKey(key: string): string {
  return `sha256:${hash('sha256', key, 'hex')}`;
}

/** A short non-secret id for logs and lists, derived from the hash. */
export function keyIdFromHash(hash: string): string {
  return `key_${hash.slice('sha256:'.length, 'sha256:'.length + 12)}`;
}
