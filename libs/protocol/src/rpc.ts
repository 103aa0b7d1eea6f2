import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

import { PlanLimits } from './plans.ts';

/**
 * Request and reply bodies of the internal services (JSON over the bus).
 * Replies are always `{ ok: true, ... }` or `{ ok: false, code, message }`.
 */

/** What a credential may do: subscribe (clients), publish (domain services), admin (revocations). */
export const Scope = Type.Union([
  Type.Literal('subscribe'),
  Type.Literal('publish'),
  Type.Literal('admin'),
]);
export type Scope = Static<typeof Scope>;

/** Who is on the other end of a connection or a publish call. */
export const Principal = Type.Object({
  tenant: Type.String(),
  userId: Type.Optional(Type.String()),
  appId: Type.Optional(Type.String()),
  plan: Type.String(),
  scopes: Type.Array(Scope),
  /** Epoch milliseconds after which the credential is no longer valid. */
  expiresAt: Type.Optional(Type.Number()),
  /** Epoch milliseconds the credential was issued (a JWT's `iat`), for user revocations. */
  issuedAt: Type.Optional(Type.Number()),
  /** How the principal authenticated, and which key or token id it used. */
  method: Type.Union([Type.Literal('api_key'), Type.Literal('jwt')]),
  credentialId: Type.String(),
  /** The plan's limits as configured for this tenant, resolved by the auth service. */
  limits: PlanLimits,
  /** Claims a policy may read (e.g. a JWT's lists of allowed ids). */
  claims: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type Principal = Static<typeof Principal>;

const Failure = Type.Object({
  ok: Type.Literal(false),
  code: Type.String(),
  message: Type.String(),
  temporary: Type.Optional(Type.Boolean()),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type Failure = Static<typeof Failure>;

export const AuthRequest = Type.Object({
  api_key: Type.Optional(Type.String()),
  token: Type.Optional(Type.String()),
});
export type AuthRequest = Static<typeof AuthRequest>;

export const AuthReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), principal: Principal }),
  Failure,
]);
export type AuthReply = Static<typeof AuthReply>;

export const AuthorizeRequest = Type.Object({
  principal: Principal,
  channel: Type.String(),
  params: Type.Record(Type.String(), Type.String()),
});
export type AuthorizeRequest = Static<typeof AuthorizeRequest>;

/** What a subscriber may listen on: one subscription id and the subjects it covers. */
export const Grant = Type.Object({
  channel: Type.String(),
  subscriptionId: Type.String(),
  subjects: Type.Array(Type.String(), { minItems: 1 }),
});
export type Grant = Static<typeof Grant>;

export const AuthorizeReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), grant: Grant }),
  Failure,
]);
export type AuthorizeReply = Static<typeof AuthorizeReply>;

export const PublishReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), id: Type.String() }),
  Failure,
]);
export type PublishReply = Static<typeof PublishReply>;

/** A connection of an account, held by one gateway instance. */
export const ConnectionLease = Type.Object({
  /** `<tenant>.<u|a>-<user or app id>`; every part is a safe id. */
  account: Type.String({ pattern: '^[A-Za-z0-9_-]+\\.[ua]-[A-Za-z0-9_-]+$' }),
  connectionId: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
  gateway: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
});
export type ConnectionLease = Static<typeof ConnectionLease>;

export const AcquireRequest = Type.Object({
  lease: ConnectionLease,
  limit: Type.Integer({ minimum: 0 }),
});
export type AcquireRequest = Static<typeof AcquireRequest>;

export const LimitsReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), count: Type.Integer() }),
  Failure,
]);
export type LimitsReply = Static<typeof LimitsReply>;

export const HeartbeatRequest = Type.Object({
  gateway: Type.String({ pattern: '^[A-Za-z0-9_-]+$' }),
});
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

/** The account a principal's connections are counted against. */
export function accountOf(principal: Pick<Principal, 'tenant' | 'userId' | 'appId'>): string {
  const holder =
    principal.userId === undefined
      ? `a-${principal.appId ?? 'anonymous'}`
      : `u-${principal.userId}`;
  return `${principal.tenant}.${holder}`;
}

/**
 * A revocation: one API key (by key id), one token (by `jti`), or every token of a user
 * issued before the revocation. Always within one tenant.
 */
export const Revocation = Type.Object({
  kind: Type.Union([Type.Literal('key'), Type.Literal('token'), Type.Literal('user')]),
  tenant: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' }),
  id: Type.String({ minLength: 1, maxLength: 256 }),
});
export type Revocation = Static<typeof Revocation>;

/** What auth broadcasts to every gateway once a revocation is stored. */
export const RevocationNotice = Type.Object({ ...Revocation.properties, at: Type.Number() });
export type RevocationNotice = Static<typeof RevocationNotice>;

/** Whether a revocation covers a principal: the rule gateways apply to live connections. */
export function revocationCovers(notice: RevocationNotice, principal: Principal): boolean {
  if (notice.tenant !== principal.tenant) return false;
  if (notice.kind === 'key')
    return principal.method === 'api_key' && principal.credentialId === notice.id;
  if (notice.kind === 'token')
    return principal.method === 'jwt' && principal.credentialId === notice.id;
  return (
    principal.method === 'jwt' &&
    principal.userId === notice.id &&
    (principal.issuedAt === undefined || principal.issuedAt <= notice.at)
  );
}

/** A key to create through the admin API, in the admin key's own tenant. */
export const CreateKeyRequest = Type.Object(
  {
    tenant: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' }),
    plan: Type.String({ pattern: '^[a-z][a-z0-9_-]{0,63}$' }),
    userId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' })),
    appId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' })),
    scopes: Type.Array(Type.Union([Type.Literal('subscribe'), Type.Literal('publish')]), {
      minItems: 1,
    }),
    label: Type.Optional(Type.String({ maxLength: 200 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type CreateKeyRequest = Static<typeof CreateKeyRequest>;

/** What listing shows of a key: never the key, never its hash. */
export const KeyInfo = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  plan: Type.String(),
  userId: Type.Optional(Type.String()),
  appId: Type.Optional(Type.String()),
  scopes: Type.Array(Scope),
  label: Type.Optional(Type.String()),
  expiresAt: Type.Optional(Type.String()),
  revoked: Type.Boolean(),
  source: Type.Union([Type.Literal('config'), Type.Literal('admin')]),
});
export type KeyInfo = Static<typeof KeyInfo>;

export const CreateKeyReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), key: Type.String(), info: KeyInfo }),
  Failure,
]);
export type CreateKeyReply = Static<typeof CreateKeyReply>;

export const ListKeysReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), keys: Type.Array(KeyInfo) }),
  Failure,
]);
export type ListKeysReply = Static<typeof ListKeysReply>;

export const OkReply = Type.Union([Type.Object({ ok: Type.Literal(true) }), Failure]);
export type OkReply = Static<typeof OkReply>;

/** Thrown when a reply body does not match its contract. */
export class ContractError extends Error {
  override name = 'ContractError';
}

/** Builds a decoder that parses JSON bytes and checks them against `schema`. */
export function decoder<T extends TSchema>(schema: T): (bytes: Uint8Array) => Static<T> {
  const validator = Compile(schema);
  return (bytes) => {
    let value: unknown;
    try {
      value = JSON.parse(
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
      );
    } catch (cause) {
      throw new ContractError('body is not valid JSON', { cause });
    }
    if (!validator.Check(value)) {
      const [first] = validator.Errors(value);
      throw new ContractError(
        `body does not match the contract at ${first?.instancePath || '/'}: ${first?.message}`,
      );
    }
    return value;
  };
}

export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}
