import Type from 'typebox';
import { Compile } from 'typebox/compile';

import type { AuthClient } from '@switchboard/auth';
import { requestJson, type Bus } from '@switchboard/bus';
import { decoder, OkReply, ServiceSubjects, type Revocation } from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { PublishOutcome } from './publisher.ts';

/** The body of a revocation request; the tenant is always the admin key's own. */
const RevokeBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('key'), Type.Literal('token'), Type.Literal('user')]),
    id: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
const checkBody = Compile(RevokeBody);
const decodeReply = decoder(OkReply);

type RevokeOutcome =
  Exclude<PublishOutcome, { ok: true }> | { ok: true; status: number; body: unknown };

/**
 * Revokes an API key (by key id), a token (by `jti`) or a user's tokens, for the tenant
 * of an admin-scoped key: auth stores it and every gateway closes what it covers.
 */
export class Revoker {
  constructor(
    private readonly bus: Bus,
    private readonly auth: AuthClient,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  async revoke(credential: string | undefined, body: unknown): Promise<RevokeOutcome> {
    if (!credential)
      return { ok: false, code: 'invalid_credentials', message: 'Missing admin key' };
    if (!checkBody.Check(body)) {
      const reason = 'Body must be {"kind": "key" | "token" | "user", "id": "..."}';
      return { ok: false, code: 'invalid_message_format', message: reason, details: { reason } };
    }

    let reply;
    try {
      reply = await this.auth.verify({ api_key: credential });
    } catch (err) {
      this.logger.error({ err }, 'auth unavailable for revocation');
      return {
        ok: false,
        code: 'server_error',
        message: 'Authentication is unavailable',
        temporary: true,
      };
    }
    if (!reply.ok) return { ok: false, code: 'invalid_credentials', message: 'Invalid admin key' };
    if (!reply.principal.scopes.includes('admin')) {
      return { ok: false, code: 'permission_denied', message: 'Key lacks the admin scope' };
    }

    const revocation: Revocation = { ...body, tenant: reply.principal.tenant };
    try {
      const answer = await requestJson(
        this.bus,
        ServiceSubjects.authRevoke,
        revocation,
        decodeReply,
        {
          timeoutMs: this.timeoutMs,
        },
      );
      if (!answer.ok)
        return { ok: false, code: 'server_error', message: answer.message, temporary: true };
    } catch (err) {
      this.logger.error({ err }, 'revocation failed');
      return {
        ok: false,
        code: 'server_error',
        message: 'Revocation is unavailable',
        temporary: true,
      };
    }
    return { ok: true, status: 200, body: { revoked: revocation } };
  }
}
