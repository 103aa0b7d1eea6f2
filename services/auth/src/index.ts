export { AuthClient, AuthUnavailableError } from './client.ts';
export { generateApiKey, hashApiKey, keyIdFromHash } from './api-keys.ts';
export { Authenticator } from './authenticator.ts';
export {
  CredentialsFile,
  parseCredentials,
  readCredentialsFile,
  type ApiKeyEntry,
  type JwtIssuer,
} from './credentials-file.ts';
export { StaticKeyStore, type ApiKeyRecord, type ApiKeyStore } from './key-store.ts';
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
import { StaticKeyStore } from './key-store.ts';
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
  revocations: RevocationStore = new MemoryRevocations(),
): Promise<void> {
  const keys = new StaticKeyStore(credentials.apiKeys);
  const tokens = await TokenVerifier.create(credentials.jwt, process.env, {
    onJwksFetchFailed: (issuer, err) => logger.error({ err, issuer }, 'jwks fetch failed'),
  });
  const plans = new PlanCatalog(credentials);
  await serveAuth(bus, new Authenticator(keys, tokens, plans, revocations), logger);
  await serveRevocations(bus, revocations, logger);
  logger.info({ apiKeys: keys.size, jwtIssuers: tokens.issuerCount }, 'auth service serving');
}
