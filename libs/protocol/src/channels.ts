import { readFileSync } from 'node:fs';

import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

import { isSafeId, MAX_ID_LENGTH, SAFE_ID_RULE } from './ids.ts';

/**
 * The channel registry: which channels exist, what parameters they take, which NATS
 * subject each maps to, and which policy guards subscribing to it. Operators describe
 * channels in a JSON file (`CHANNELS_FILE`); the built-in catalog below is the default.
 * The file format is documented in docs/channels.md.
 */

/** A client-supplied id: exactly one safe NATS subject token. */
export const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$', maxLength: MAX_ID_LENGTH });

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$', maxLength: 64 });
const strict = { additionalProperties: false } as const;

/** One parameter of a channel. Every value must also be a safe id (one subject token). */
export const ParamSpec = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 500 })),
    /** Subscribe and publish must carry it (default false). */
    required: Type.Optional(Type.Boolean()),
    /** A regular expression the whole value must match. */
    pattern: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    minLength: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ID_LENGTH })),
    maxLength: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ID_LENGTH })),
    enum: Type.Optional(Type.Array(Id, { minItems: 1, maxItems: 1000, uniqueItems: true })),
  },
  strict,
);
export type ParamSpec = Static<typeof ParamSpec>;

/** A scope a policy can require: the built-in three, or an operator's own (`reports:read`). */
export const ScopeName = Type.String({ pattern: '^[a-z][a-z0-9_.:-]{0,63}$' });

/** Any principal of the tenant with the `subscribe` scope (every channel requires that scope). */
export const TenantPolicy = Type.Object({ type: Type.Literal('tenant') }, strict);
/** `param` is the principal's own user id; filled in when the subscribe leaves it out. */
export const OwnUserPolicy = Type.Object({ type: Type.Literal('own_user'), param: Name }, strict);
/** The credential must carry `scope` besides `subscribe`. */
export const ScopePolicy = Type.Object({ type: Type.Literal('scope'), scope: ScopeName }, strict);
/** `param` must be one of the ids the JWT lists in the claim `claim`. */
export const ClaimPolicy = Type.Object(
  {
    type: Type.Literal('claim'),
    claim: Type.String({ minLength: 1, maxLength: 128 }),
    param: Name,
  },
  strict,
);
/** A domain service answers on `sb.authz.<resource>`; answers are cached for `cacheTtlMs`. */
export const DelegatePolicy = Type.Object(
  {
    type: Type.Literal('delegate'),
    resource: Name,
    /** The parameter holding the resource id; without it the service decides per channel. */
    param: Type.Optional(Name),
    cacheTtlMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 30_000 })),
  },
  strict,
);
export const PolicySpec = Type.Union([
  TenantPolicy,
  OwnUserPolicy,
  ScopePolicy,
  ClaimPolicy,
  DelegatePolicy,
]);
export type PolicySpec = Static<typeof PolicySpec>;
export type ClaimPolicy = Static<typeof ClaimPolicy>;
export type DelegatePolicy = Static<typeof DelegatePolicy>;

export const ChannelSpec = Type.Object(
  {
    /** As clients write it; a `*` token matches any one safe id (`data.*` → `data.orders`). */
    name: Type.String({ minLength: 1, maxLength: 200 }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    /** Parameters in subject order (JSON keeps the order of object keys). */
    params: Type.Optional(Type.Record(Type.String(), ParamSpec)),
    /**
     * Dot-separated tokens after `sb.ev.<tenant>.`: literals, `{channel}` (the name's
     * tokens) and one `{param}` per parameter. Default: `{channel}` then every parameter.
     */
    subject: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    /** A subscribe or publish needs at least one of these. */
    anyOf: Type.Optional(Type.Array(Name, { minItems: 1, uniqueItems: true })),
    /** Parameters a publish must carry although a subscribe may leave them out. */
    publishRequires: Type.Optional(Type.Array(Name, { uniqueItems: true })),
    /** One policy, or several that must all allow. Default: `tenant`. */
    policy: Type.Optional(Type.Union([PolicySpec, Type.Array(PolicySpec, { minItems: 1 })])),
  },
  strict,
);
export type ChannelSpec = Static<typeof ChannelSpec>;

export const ChannelsFile = Type.Object(
  {
    /** Keep the built-in channels (default true); a channel of the file replaces one of the same name. */
    includeDefaults: Type.Optional(Type.Boolean()),
    channels: Type.Array(ChannelSpec),
  },
  strict,
);
export type ChannelsFile = Static<typeof ChannelsFile>;

const optional: ParamSpec = {};
const required: ParamSpec = { required: true };

/** The built-in channel catalog (API v1 plus the chat example), in the file's format. */
export const DEFAULT_CHANNELS: readonly ChannelSpec[] = [
  {
    name: 'users.presence',
    description: 'User online/offline status changes',
    params: { user_id: optional },
    publishRequires: ['user_id'],
  },
  {
    name: 'projects.updates',
    description: 'Project creation, updates, or deletion',
    params: { project_id: optional },
    publishRequires: ['project_id'],
  },
  {
    name: 'tasks.updates',
    description: 'Task creation, updates, status changes, or deletion',
    params: { project_id: required, task_id: optional },
  },
  {
    name: 'comments.updates',
    description: 'New comments or comment edits',
    params: { project_id: optional, task_id: optional },
    anyOf: ['project_id', 'task_id'],
  },
  {
    name: 'files.updates',
    description: 'File uploads, updates, or deletion',
    params: { project_id: required, file_id: optional },
  },
  {
    name: 'notifications',
    description: "The authenticated user's own notifications",
    params: { user_id: optional },
    publishRequires: ['user_id'],
    policy: { type: 'own_user', param: 'user_id' },
  },
  {
    name: 'data.*',
    description: 'Real-time data feeds for a resource type',
    params: { resource_id: optional },
  },
  {
    name: 'chat.messages',
    description: 'Messages of one chat room',
    params: { room_id: required },
  },
];

/** One parameter as the registry checks it. */
export interface ParamDefinition {
  readonly name: string;
  readonly description?: string;
  readonly required: boolean;
  /** Why `value` is not acceptable, or undefined when it is. */
  check(value: string): string | undefined;
}

export type SubjectToken =
  | { readonly kind: 'channel' }
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string };

/** A channel of the registry, checked and compiled. */
export interface ChannelDefinition {
  readonly name: string;
  readonly description: string;
  /** The name split on dots; `*` where a pattern takes any one safe id. */
  readonly nameTokens: readonly string[];
  readonly params: readonly ParamDefinition[];
  readonly subject: readonly SubjectToken[];
  readonly anyOf?: readonly string[];
  readonly publishRequires: readonly string[];
  readonly policies: readonly PolicySpec[];
}

/** A channel name resolved against the registry. */
export interface ChannelRef {
  readonly definition: ChannelDefinition;
  /** The channel name as the client wrote it, split into subject tokens. */
  readonly tokens: readonly string[];
}

/** Parameters as they sit at the top level of a subscribe or publish message. */
export type ChannelParams = Readonly<Record<string, string>>;

export type Checked =
  | { readonly ok: true; readonly channel: ChannelRef }
  | { readonly ok: false; readonly reason: string };

export type Resolution =
  | { readonly ok: true; readonly channel: ChannelRef; readonly subject: string }
  | { readonly ok: false; readonly reason: string };

/** A channels file (or spec) that cannot be used; the message names the channel and the field. */
export class ChannelConfigError extends Error {
  override name = 'ChannelConfigError';
}

/** Subject token for an optional parameter an event was published without. */
export const ABSENT = '_';
const ROOT = 'sb';
/** `sb.authz.changed.<tenant>` carries permission changes, so no delegate may be called that. */
const RESERVED_RESOURCE = 'changed';
const MAX_SUBJECT_TOKENS = 16;
/** Fields of subscribe, publish and server messages, which parameters sit beside. */
const RESERVED_PARAMS = new Set([
  'type',
  'channel',
  'event',
  'data',
  'id',
  'timestamp',
  'request_id',
  'subscription_id',
  'code',
  'message',
  'details',
  'temporary',
]);

function paramDefinition(channel: string, name: string, spec: ParamSpec): ParamDefinition {
  let pattern: RegExp | undefined;
  if (spec.pattern !== undefined) {
    try {
      pattern = new RegExp(`^(?:${spec.pattern})$`, 'u');
    } catch (err) {
      throw new ChannelConfigError(
        `channel ${channel}: parameter ${name}: pattern is not a valid regular expression (${(err as Error).message})`,
      );
    }
  }
  const allowed = spec.enum && new Set(spec.enum);
  return {
    name,
    description: spec.description,
    required: spec.required ?? false,
    check(value) {
      if (!isSafeId(value)) return `Invalid parameter ${name}: ${SAFE_ID_RULE}`;
      if (spec.minLength !== undefined && value.length < spec.minLength)
        return `Invalid parameter ${name}: at least ${spec.minLength} characters`;
      if (spec.maxLength !== undefined && value.length > spec.maxLength)
        return `Invalid parameter ${name}: at most ${spec.maxLength} characters`;
      if (allowed && !allowed.has(value))
        return `Invalid parameter ${name}: one of ${[...allowed].join(', ')}`;
      if (pattern && !pattern.test(value))
        return `Invalid parameter ${name}: must match ${spec.pattern}`;
      return undefined;
    },
  };
}

function parseTemplate(
  channel: string,
  template: string,
  params: readonly string[],
): SubjectToken[] {
  const tokens = template.split('.').map((token): SubjectToken => {
    if (token === '{channel}') return { kind: 'channel' };
    const param = /^\{([A-Za-z0-9][A-Za-z0-9_-]*)\}$/.exec(token)?.[1];
    if (param !== undefined) {
      if (!params.includes(param))
        throw new ChannelConfigError(
          `channel ${channel}: subject names unknown parameter ${param}`,
        );
      return { kind: 'param', name: param };
    }
    if (!isSafeId(token))
      throw new ChannelConfigError(
        `channel ${channel}: subject token ${JSON.stringify(token)} is neither {channel}, {param} nor a literal of ${SAFE_ID_RULE}`,
      );
    return { kind: 'literal', value: token };
  });
  for (const name of params) {
    const uses = tokens.filter((t) => t.kind === 'param' && t.name === name).length;
    if (uses !== 1)
      throw new ChannelConfigError(
        `channel ${channel}: subject must name parameter ${name} exactly once`,
      );
  }
  return tokens;
}

function compileChannel(spec: ChannelSpec): ChannelDefinition {
  const { name } = spec;
  const nameTokens = name.split('.');
  if (!nameTokens.every((t) => t === '*' || isSafeId(t)) || nameTokens.every((t) => t === '*'))
    throw new ChannelConfigError(
      `channel ${JSON.stringify(name)}: name must be dot-separated tokens of ${SAFE_ID_RULE}, or *`,
    );

  const paramNames = Object.keys(spec.params ?? {});
  for (const param of paramNames) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(param) || RESERVED_PARAMS.has(param))
      throw new ChannelConfigError(
        `channel ${name}: parameter name ${JSON.stringify(param)} is invalid or reserved (${[...RESERVED_PARAMS].join(', ')})`,
      );
  }
  const params = Object.entries(spec.params ?? {}).map(([param, p]) =>
    paramDefinition(name, param, p),
  );
  const known = (list: readonly string[] | undefined, field: string): void => {
    for (const param of list ?? [])
      if (!paramNames.includes(param))
        throw new ChannelConfigError(`channel ${name}: ${field} names unknown parameter ${param}`);
  };
  known(spec.anyOf, 'anyOf');
  known(spec.publishRequires, 'publishRequires');

  const template = spec.subject ?? ['{channel}', ...paramNames.map((p) => `{${p}}`)].join('.');
  const subject = parseTemplate(name, template, paramNames);
  const length = subject.reduce((n, t) => n + (t.kind === 'channel' ? nameTokens.length : 1), 0);
  if (length + 3 > MAX_SUBJECT_TOKENS)
    throw new ChannelConfigError(`channel ${name}: subject is longer than ${MAX_SUBJECT_TOKENS}`);

  const policies = spec.policy === undefined ? [] : [spec.policy].flat();
  for (const policy of policies) {
    if ('param' in policy && policy.param !== undefined && !paramNames.includes(policy.param))
      throw new ChannelConfigError(
        `channel ${name}: ${policy.type} policy names unknown parameter ${policy.param}`,
      );
  }
  for (const policy of policies) {
    if (policy.type === 'delegate' && policy.resource === RESERVED_RESOURCE)
      throw new ChannelConfigError(
        `channel ${name}: delegate resource ${RESERVED_RESOURCE} is reserved for permission changes`,
      );
  }
  const expanding = policies.filter(
    (p) => (p.type === 'claim' || p.type === 'delegate') && p.param !== undefined,
  );
  if (expanding.length > 1)
    throw new ChannelConfigError(
      `channel ${name}: at most one claim or delegate policy may name a parameter`,
    );

  return {
    name,
    description: spec.description ?? '',
    nameTokens,
    params,
    subject,
    anyOf: spec.anyOf,
    publishRequires: spec.publishRequires ?? params.filter((p) => p.required).map((p) => p.name),
    policies: policies.length === 0 ? [{ type: 'tenant' }] : policies,
  };
}

/** The subject pattern of a channel with every parameter and `*` token as a wildcard. */
function shape(definition: ChannelDefinition): string[] {
  return definition.subject.flatMap((t) =>
    t.kind === 'channel' ? definition.nameTokens : t.kind === 'literal' ? [t.value] : ['*'],
  );
}

function overlaps(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === '*' || b[i] === '*' || t === b[i]);
}

function matchesName(pattern: readonly string[], tokens: readonly string[]): boolean {
  return (
    pattern.length === tokens.length &&
    pattern.every((t, i) => (t === '*' ? isSafeId(tokens[i]) : t === tokens[i]))
  );
}

const checkFile = Compile(ChannelsFile);

export class ChannelRegistry {
  readonly #exact = new Map<string, ChannelDefinition>();
  readonly #patterns: ChannelDefinition[] = [];

  private constructor(readonly channels: readonly ChannelDefinition[]) {
    for (const channel of channels) {
      if (channel.nameTokens.includes('*')) this.#patterns.push(channel);
      else this.#exact.set(channel.name, channel);
    }
    // Two channels whose subjects could coincide would leak events from one to the other.
    for (const [i, a] of channels.entries()) {
      for (const b of channels.slice(i + 1)) {
        if (overlaps(shape(a), shape(b)))
          throw new ChannelConfigError(
            `channels ${a.name} and ${b.name} can map to the same subject; give one a distinct subject`,
          );
      }
    }
  }

  /** The built-in catalog only. */
  static defaults(): ChannelRegistry {
    return ChannelRegistry.fromSpec({ channels: [] });
  }

  /** A registry from the parsed contents of a channels file. */
  static fromSpec(file: unknown, source = 'channels file'): ChannelRegistry {
    if (!checkFile.Check(file)) {
      const [first] = checkFile.Errors(file);
      throw new ChannelConfigError(
        `${source}: ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`,
      );
    }
    const specs = new Map<string, ChannelSpec>();
    if (file.includeDefaults !== false) for (const c of DEFAULT_CHANNELS) specs.set(c.name, c);
    const seen = new Set<string>();
    for (const c of file.channels) {
      if (seen.has(c.name)) throw new ChannelConfigError(`${source}: channel ${c.name} twice`);
      seen.add(c.name);
      specs.set(c.name, c);
    }
    try {
      return new ChannelRegistry([...specs.values()].map(compileChannel));
    } catch (err) {
      if (err instanceof ChannelConfigError) err.message = `${source}: ${err.message}`;
      throw err;
    }
  }

  /** Reads and checks a channels file; throws ChannelConfigError naming what is wrong. */
  static fromFile(path: string): ChannelRegistry {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ChannelConfigError(`${path}: ${(err as Error).message}`);
    }
    return ChannelRegistry.fromSpec(parsed, path);
  }

  find(name: string): ChannelRef | undefined {
    const exact = this.#exact.get(name);
    const tokens = name.split('.');
    if (exact) return { definition: exact, tokens };
    const pattern = this.#patterns.find((p) => matchesName(p.nameTokens, tokens));
    return pattern && { definition: pattern, tokens };
  }

  /**
   * Checks a subscribe request's channel and parameters (names, values, required, anyOf).
   * Policies are the channel-authorizer's business.
   */
  checkSubscription(channelName: string, params: ChannelParams): Checked {
    const checked = this.#checkParams(channelName, params);
    if (!checked.ok) return checked;
    const { definition } = checked.channel;
    for (const param of definition.params) {
      if (param.required && params[param.name] === undefined)
        return { ok: false, reason: `Missing required parameter: ${param.name}` };
    }
    return this.#checkAnyOf(definition, params) ?? checked;
  }

  /**
   * The subject a subscription listens on. An absent optional parameter becomes a `*`
   * wildcard, so the subscription receives every matching event of the tenant.
   */
  subscriptionSubject(tenant: string, channel: ChannelRef, params: ChannelParams): string {
    return eventSubject(tenant, channel, (name) => params[name] ?? '*');
  }

  /** Resolves a publish to the one concrete subject its event goes out on. */
  resolvePublication(tenant: string, channelName: string, params: ChannelParams): Resolution {
    const checked = this.#checkParams(channelName, params);
    if (!checked.ok) return checked;
    const { definition } = checked.channel;
    for (const param of definition.params) {
      if (
        (param.required || definition.publishRequires.includes(param.name)) &&
        params[param.name] === undefined
      )
        return { ok: false, reason: `Missing required parameter: ${param.name}` };
    }
    const missing = this.#checkAnyOf(definition, params);
    if (missing) return missing;
    const subject = eventSubject(tenant, checked.channel, (name) => params[name] ?? ABSENT);
    return { ok: true, channel: checked.channel, subject };
  }

  #checkParams(channelName: string, params: ChannelParams): Checked {
    const channel = this.find(channelName);
    if (!channel) return { ok: false, reason: `Unknown channel: ${channelName}` };
    const { definition } = channel;
    for (const [name, value] of Object.entries(params)) {
      const param = definition.params.find((p) => p.name === name);
      if (!param) return { ok: false, reason: `Unknown parameter: ${name}` };
      const problem = param.check(value);
      if (problem) return { ok: false, reason: problem };
    }
    return { ok: true, channel };
  }

  #checkAnyOf(
    definition: ChannelDefinition,
    params: ChannelParams,
  ): { readonly ok: false; readonly reason: string } | undefined {
    const anyOf = definition.anyOf;
    if (anyOf && !anyOf.some((name) => params[name] !== undefined))
      return { ok: false, reason: `Missing required parameter: one of ${anyOf.join(', ')}` };
    return undefined;
  }
}

function eventSubject(
  tenant: string,
  channel: ChannelRef,
  value: (param: string) => string,
): string {
  const tokens = channel.definition.subject.flatMap((t) =>
    t.kind === 'channel' ? channel.tokens : t.kind === 'literal' ? [t.value] : [value(t.name)],
  );
  return [ROOT, 'ev', tenant, ...tokens].join('.');
}

export { SAFE_ID_RULE };
