import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

import { PlanLimits } from './plans.ts';
import { tenantOfPermissionChange } from './subjects.ts';

/**
 * Request and reply bodies of the internal services (JSON over the bus).
 * Replies are always `{ ok: true, ... }` or `{ ok: false, code, message }`.
 */

/**
 * What a credential may do: subscribe (clients), publish (domain services), admin
 * (revocations, keys), or an operator's own scope that a channel policy requires.
 */
export const Scope = Type.String({ pattern: '^[a-z][a-z0-9_.:-]{0,63}$' });
export type Scope = Static<typeof Scope>;

/** A scope a key created through the admin API may have: any but `admin`. */
export const DelegableScope = Type.String({ pattern: '^(?!admin$)[a-z][a-z0-9_.:-]{0,63}$' });

/** The three scopes Switchboard itself gives meaning to. */
export const BUILT_IN_SCOPES: readonly Scope[] = ['subscribe', 'publish', 'admin'];

/** A list claim of a JWT (e.g. `projects: ["p1", "p2"]`) that claim policies read. */
export const ClaimLists = Type.Record(
  Type.String({ maxLength: 128 }),
  Type.Array(Type.String({ maxLength: 256 }), { maxItems: 1000 }),
);
export type ClaimLists = Static<typeof ClaimLists>;

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
  /** A JWT's list claims, which claim policies read (e.g. the ids of allowed projects). */
  claims: Type.Optional(ClaimLists),
});
export type Principal = Static<typeof Principal>;

const principalJson = new WeakMap<Principal, string>();

/**
 * The JSON of a principal, made once per object. Principals are never changed once
 * decoded, and a gateway's cached credentials hand out the same object to every
 * connection that uses them, so each authentication and authorization request of a
 * connect storm reuses the text rather than serialising the principal again.
 */
export function encodePrincipal(principal: Principal): string {
  let json = principalJson.get(principal);
  if (json === undefined) {
    json = JSON.stringify(principal);
    principalJson.set(principal, json);
  }
  return json;
}

/** An authorize request as JSON, the principal's part from `encodePrincipal`. */
export function encodeAuthorizeRequest(request: AuthorizeRequest): string {
  const { principal, ...rest } = request;
  // `rest` always holds `items`, so its JSON is an object with at least one member.
  return `{"principal":${encodePrincipal(principal)},${JSON.stringify(rest).slice(1)}`;
}

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

/** One subscribe request of a client. */
export const SubscribeItem = Type.Object({
  channel: Type.String(),
  params: Type.Record(Type.String(), Type.String()),
});
export type SubscribeItem = Static<typeof SubscribeItem>;

/** Most subscriptions one authorize request may carry. */
export const MAX_AUTHORIZE_ITEMS = 256;

/**
 * Several subscribe requests of one principal, answered in one round trip (a reconnecting
 * client restoring its subscriptions, or a re-evaluation after a permission change).
 */
export const AuthorizeRequest = Type.Object({
  principal: Principal,
  items: Type.Array(SubscribeItem, { minItems: 1, maxItems: MAX_AUTHORIZE_ITEMS }),
  /** Ask delegates again instead of answering from the cache (after a permission change). */
  fresh: Type.Optional(Type.Boolean()),
});
export type AuthorizeRequest = Static<typeof AuthorizeRequest>;

/**
 * What a subscriber may listen on: one subscription id and the subjects it covers. A
 * membership-limited subscription may cover no subject at all until a grant arrives.
 */
export const Grant = Type.Object({
  channel: Type.String(),
  subscriptionId: Type.String(),
  subjects: Type.Array(Type.String()),
  /** Delegate resources the answer depends on: a change of one re-evaluates it. */
  dependsOn: Type.Optional(Type.Array(Type.String())),
});
export type Grant = Static<typeof Grant>;

export const GrantReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), grant: Grant }),
  Failure,
]);
export type GrantReply = Static<typeof GrantReply>;

export const AuthorizeReply = Type.Union([
  Type.Object({ ok: Type.Literal(true), results: Type.Array(GrantReply) }),
  Failure,
]);
export type AuthorizeReply = Static<typeof AuthorizeReply>;

/** What the channel-authorizer sends a domain service on `sb.authz.<resource>`. */
export const DelegateRequest = Type.Object({
  tenant: Type.String(),
  user_id: Type.Optional(Type.String()),
  app_id: Type.Optional(Type.String()),
  scopes: Type.Array(Scope),
  resource: Type.String(),
  /** The resource id; absent when the client subscribed without it (answer with `ids`). */
  id: Type.Optional(Type.String()),
  channel: Type.String(),
  action: Type.Literal('subscribe'),
});
export type DelegateRequest = Static<typeof DelegateRequest>;

/** A domain service's answer to a DelegateRequest. */
export const DelegateReply = Type.Object({
  decision: Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('not_found')]),
  /** For a request without `id`: the ids the principal may see. Absent: all of them. */
  ids: Type.Optional(
    Type.Array(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' }), { maxItems: 1000 }),
  ),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
  /** Cache the answer at most this long (the policy's `cacheTtlMs` is the upper bound). */
  ttl_ms: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type DelegateReply = Static<typeof DelegateReply>;

/**
 * Published by domain services on `sb.authz.changed.<tenant>`: the permissions of a user
 * or application (absent: everyone in the tenant) on a resource (absent: any) changed.
 */
export const PermissionChange = Type.Object({
  user_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' })),
  app_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' })),
  resource: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' })),
  id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' })),
});
export type PermissionChange = Static<typeof PermissionChange>;

/** Whether a permission change concerns a principal (of the change's tenant). */
export function changeConcerns(
  change: PermissionChange,
  principal: Pick<Principal, 'userId' | 'appId'>,
): boolean {
  if (change.user_id !== undefined && change.user_id !== principal.userId) return false;
  if (change.app_id !== undefined && change.app_id !== principal.appId) return false;
  return true;
}

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
    scopes: Type.Array(DelegableScope, { minItems: 1, maxItems: 32, uniqueItems: true }),
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

/**
 * The tenant and the change of a message on `sb.authz.changed.<tenant>`. Throws
 * ContractError for another subject or a body that is not a PermissionChange.
 */
export function readPermissionChange(
  subject: string,
  data: Uint8Array,
): { readonly tenant: string; readonly change: PermissionChange } {
  const tenant = tenantOfPermissionChange(subject);
  if (tenant === undefined)
    throw new ContractError(`${subject} is not a permission-change subject`);
  return { tenant, change: decodePermissionChange(data) };
}

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

const decodePermissionChange = decoder(PermissionChange);

export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}
