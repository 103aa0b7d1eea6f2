export { AuthClient, AuthUnavailableError } from './client.ts';
export {
  CachingAuthClient,
  type CredentialVerifier,
  type KeyCacheOptions,
} from './caching-client.ts';
export { generateApiKey, hashApiKey, keyIdFromHash } from './api-keys.ts';
export { Authenticator } from './authenticator.ts';
export {
  CredentialsFile,
  parseCredentials,
  readCredentialsFile,
  type ApiKeyEntry,
  type JwtIssuer,
} from './credentials-file.ts';
export {
  KvKeyStore,
  LayeredKeyStore,
  MemoryKeyStore,
  type ApiKeyRecord,
  type ApiKeyStore,
  type WritableKeyStore,
} from './key-store.ts';
export { serveAuth } from './service.ts';
export { TokenVerifier } from './token-verifier.ts';
export { PlanCatalog } from './plan-catalog.ts';
export { AuthSettings } from './config.ts';
export {
  isRevoked,
  KvRevocations,
  MemoryRevocations,
  type RevocationStore,
} from './revocations.ts';

import type { Bus } from '@switchboard/bus';
import type { Logger } from '@switchboard/telemetry';

import { Authenticator } from './authenticator.ts';
import type { CredentialsFile } from './credentials-file.ts';
import { serveKeyAdmin } from './keys-endpoint.ts';
import { LayeredKeyStore, MemoryKeyStore, type WritableKeyStore } from './key-store.ts';
import { PlanCatalog } from './plan-catalog.ts';
import { serveRevocations } from './revoke-endpoint.ts';
import { MemoryRevocations, type RevocationStore } from './revocations.ts';
import { serveAuth } from './service.ts';
import { TokenVerifier } from './token-verifier.ts';

/** Builds the auth service from a credentials file and serves it on the bus. */
export async function startAuthService(
  bus: Bus,
  credentials: CredentialsFile,
  logger: Logger,
  stores: { revocations?: RevocationStore; createdKeys?: WritableKeyStore } = {},
): Promise<void> {
  const revocations = stores.revocations ?? new MemoryRevocations();
  const file = new MemoryKeyStore(credentials.apiKeys);
  const created = stores.createdKeys ?? new MemoryKeyStore();
  const keys = new LayeredKeyStore(file, created);
  const tokens = await TokenVerifier.create(credentials.jwt, process.env, {
    onJwksFetchFailed: (issuer, err) => logger.error({ err, issuer }, 'jwks fetch failed'),
  });
  const plans = new PlanCatalog(credentials);
  await serveAuth(bus, new Authenticator(keys, tokens, plans, revocations), logger);
  await serveRevocations(bus, revocations, logger);
  await serveKeyAdmin(bus, { file, created, plans, revocations }, logger);
  logger.info({ apiKeys: file.size, jwtIssuers: tokens.issuerCount }, 'auth service serving');
}
