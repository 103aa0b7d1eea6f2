import type { AuthReply, AuthRequest } from '@switchboard/protocol';

import { hashApiKey } from './api-keys.ts';
import type { ApiKeyStore } from './key-store.ts';
import type { PlanCatalog } from './plan-catalog.ts';
import { isRevoked, MemoryRevocations, type RevocationStore } from './revocations.ts';
import { TokenRejectedError, type TokenPrincipal, type TokenVerifier } from './token-verifier.ts';

const INVALID_KEY = 'Invalid API key';

/** Turns an API key or a JWT into a principal, or says why not. */
export class Authenticator {
  constructor(
    private readonly keys: ApiKeyStore,
    private readonly tokens: TokenVerifier,
    private readonly plans: PlanCatalog,
    private readonly revocations: RevocationStore = new MemoryRevocations(),
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(request: AuthRequest): Promise<AuthReply> {
    if (request.api_key !== undefined) return this.#byApiKey(request.api_key);
    if (request.token !== undefined) return this.#byToken(request.token);
    return { ok: false, code: 'invalid_message_format', message: 'auth needs api_key or token' };
  }

  #byApiKey(key: string): AuthReply {
    const record = this.keys.findByHash(hashApiKey(key));
    const expired = record?.expiresAt !== undefined && Date.parse(record.expiresAt) <= this.now();
    // Unknown, revoked and expired keys get the same answer.
    if (!record || record.revoked || expired) {
      return { ok: false, code: 'invalid_credentials', message: INVALID_KEY };
    }

    return this.#withLimits({
      tenant: record.tenant,
      userId: record.userId,
      appId: record.appId,
      plan: record.plan,
      scopes: record.scopes,
      expiresAt: record.expiresAt === undefined ? undefined : Date.parse(record.expiresAt),
      method: 'api_key',
      credentialId: record.id,
    });
  }

  #withLimits(principal: TokenPrincipal): AuthReply {
    const limits = this.plans.limitsFor(principal.tenant, principal.plan);
    if (!limits)
      return {
        ok: false,
        code: 'invalid_credentials',
        message: 'Credential names an unknown plan',
      };
    const complete = { ...principal, limits };
    if (isRevoked(this.revocations, complete)) {
      const message = complete.method === 'api_key' ? INVALID_KEY : 'Token has been revoked';
      return { ok: false, code: 'invalid_credentials', message };
    }
    return { ok: true, principal: complete };
  }

  async #byToken(token: string): Promise<AuthReply> {
    try {
      return this.#withLimits(await this.tokens.verify(token));
    } catch (error) {
      if (error instanceof TokenRejectedError) {
        // An issuer whose keys cannot be fetched is our problem, not a bad credential.
        if (error.temporary)
          return { ok: false, code: 'server_error', message: error.message, temporary: true };
        return { ok: false, code: 'invalid_credentials', message: error.message };
      }
      throw error;
    }
  }
}
