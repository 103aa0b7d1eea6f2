import Type from 'typebox';
import { Compile } from 'typebox/compile';

import type { AuthClient } from '@switchboard/auth';
import { requestJson, type Bus } from '@switchboard/bus';
import {
  CreateKeyReply,
  DelegableScope,
  decoder,
  ListKeysReply,
  encodeJson,
  OkReply,
  PermissionChange,
  permissionChangeSubject,
  ServiceSubjects,
  type Principal,
  type Revocation,
} from '@switchboard/protocol';
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
const checkRevoke = Compile(RevokeBody);

const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' });
/** The body of a key creation: snake_case like the rest of the public API. */
const CreateKeyBody = Type.Object(
  {
    plan: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,63}$' }),
    user_id: Type.Optional(Id),
    app_id: Type.Optional(Id),
    scopes: Type.Array(DelegableScope, { minItems: 1, maxItems: 32, uniqueItems: true }),
    label: Type.Optional(Type.String({ maxLength: 200 })),
    expires_at: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
const checkCreate = Compile(CreateKeyBody);

/** The body of a permission change: the protocol's shape, nothing else. */
const checkChange = Compile(
  Type.Object({ ...PermissionChange.properties }, { additionalProperties: false }),
);

const decoders = {
  ok: decoder(OkReply),
  created: decoder(CreateKeyReply),
  listed: decoder(ListKeysReply),
};

export type AdminOutcome =
  | Exclude<PublishOutcome, { ok: true }>
  | { readonly ok: true; readonly status: number; readonly body: unknown };

const unavailable = (what: string): AdminOutcome => ({
  ok: false,
  code: 'server_error',
  message: `${what} is unavailable`,
  temporary: true,
});

/**
 * The admin API for keys with the `admin` scope, always within the admin key's own
 * tenant: revoke a key, a token or a user's tokens; create and list API keys.
 */
export class AdminApi {
  constructor(
    private readonly bus: Bus,
    private readonly auth: AuthClient,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    /** Told of each revocation auth has stored, e.g. to drop remembered server keys. */
    private readonly onRevoked: (revocation: Revocation) => void = () => undefined,
  ) {}

  revoke(credential: string | undefined, body: unknown): Promise<AdminOutcome> {
    return this.#asAdmin(credential, async (admin) => {
      if (!checkRevoke.Check(body))
        return invalid('Body must be {"kind": "key" | "token" | "user", "id": "..."}');
      const revocation: Revocation = { ...body, tenant: admin.tenant };
      const answer = await this.#call(ServiceSubjects.authRevoke, revocation, decoders.ok);
      if (!answer?.ok) return unavailable('Revocation');
      this.onRevoked(revocation);
      return { ok: true, status: 200, body: { revoked: revocation } };
    });
  }

  createKey(credential: string | undefined, body: unknown): Promise<AdminOutcome> {
    return this.#asAdmin(credential, async (admin) => {
      if (!checkCreate.Check(body)) {
        const [first] = checkCreate.Errors(body);
        return invalid(
          `Invalid key request at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`,
        );
      }
      const request = {
        tenant: admin.tenant,
        plan: body.plan,
        userId: body.user_id,
        appId: body.app_id,
        scopes: body.scopes,
        label: body.label,
        expiresAt: body.expires_at,
      };
      const answer = await this.#call(ServiceSubjects.authCreateKey, request, decoders.created);
      if (!answer) return unavailable('Key creation');
      if (!answer.ok) return invalid(answer.message);
      return { ok: true, status: 201, body: { key: answer.key, ...answer.info } };
    });
  }

  /**
   * Announces a permission change in the admin key's tenant on `sb.authz.changed.<tenant>`,
   * for domain services that do not speak NATS themselves.
   */
  permissionChange(credential: string | undefined, body: unknown): Promise<AdminOutcome> {
    return this.#asAdmin(credential, (admin) => {
      if (!checkChange.Check(body)) {
        const [first] = checkChange.Errors(body);
        return Promise.resolve(
          invalid(
            `Invalid permission change at ${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`,
          ),
        );
      }
      this.bus.publish(permissionChangeSubject(admin.tenant), encodeJson(body));
      this.logger.info({ tenant: admin.tenant, ...body }, 'permission change announced');
      return Promise.resolve({ ok: true, status: 202, body: { accepted: body } });
    });
  }

  listKeys(credential: string | undefined): Promise<AdminOutcome> {
    return this.#asAdmin(credential, async (admin) => {
      const answer = await this.#call(
        ServiceSubjects.authListKeys,
        { tenant: admin.tenant },
        decoders.listed,
      );
      if (!answer?.ok) return unavailable('Key listing');
      return { ok: true, status: 200, body: { keys: answer.keys } };
    });
  }

  async #asAdmin(
    credential: string | undefined,
    then: (admin: Principal) => Promise<AdminOutcome>,
  ): Promise<AdminOutcome> {
    if (!credential)
      return { ok: false, code: 'invalid_credentials', message: 'Missing admin key' };
    let reply;
    try {
      reply = await this.auth.verify({ api_key: credential });
    } catch (err) {
      this.logger.error({ err }, 'auth unavailable for the admin api');
      return unavailable('Authentication');
    }
    if (!reply.ok) return { ok: false, code: 'invalid_credentials', message: 'Invalid admin key' };
    if (!reply.principal.scopes.includes('admin')) {
      return { ok: false, code: 'permission_denied', message: 'Key lacks the admin scope' };
    }
    return then(reply.principal);
  }

  /** A request to auth; undefined when it does not answer (logged). */
  async #call<T>(
    subject: string,
    body: unknown,
    decode: (bytes: Uint8Array) => T,
  ): Promise<T | undefined> {
    try {
      return await requestJson(this.bus, subject, body, decode, { timeoutMs: this.timeoutMs });
    } catch (err) {
      this.logger.error({ err, subject }, 'admin request failed');
      return undefined;
    }
  }
}

function invalid(reason: string): AdminOutcome {
  return { ok: false, code: 'invalid_message_format', message: reason, details: { reason } };
}
