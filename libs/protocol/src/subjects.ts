import { findChannel, requiredParams, type ChannelRef } from './channels.ts';
import { isSafeId, SAFE_ID_RULE } from './ids.ts';

/**
 * Every NATS subject Switchboard uses is built here.
 *
 * Events:   sb.ev.<tenant>.<channel tokens>.<one token per channel parameter>
 * Services: sb.svc.<service>.<operation>
 *
 * The tenant is the third token of every event subject, so a subscription of one
 * tenant can never match another tenant's events, whatever the ids look like.
 */
const ROOT = 'sb';

/** Subject token standing for an optional parameter an event was published without. */
export const ABSENT = '_';

export const ServiceSubjects = {
  authVerify: `${ROOT}.svc.auth.verify`,
  authorizeSubscribe: `${ROOT}.svc.authz.subscribe`,
  publish: `${ROOT}.svc.publisher.publish`,
  connectionAcquire: `${ROOT}.svc.limits.acquire`,
  connectionRelease: `${ROOT}.svc.limits.release`,
  gatewayHeartbeat: `${ROOT}.svc.limits.heartbeat`,
  authRevoke: `${ROOT}.svc.auth.revoke`,
  /** Auth announces a graceful stop here, so callers that remember keys forget them. */
  authStopping: `${ROOT}.svc.auth.stopping`,
  authCreateKey: `${ROOT}.svc.auth.keys.create`,
  authListKeys: `${ROOT}.svc.auth.keys.list`,
} as const;

/** True when `subject` is one of `tenant`'s event subjects (no `>`): what a grant may name. */
export function isTenantEventSubject(tenant: string, subject: string): boolean {
  return subject.startsWith(`${ROOT}.ev.${tenant}.`) && !subject.split('.').includes('>');
}

/** Parameters as they sit at the top level of a subscribe or publish message. */
export type ChannelParams = Readonly<Record<string, string>>;

export type Resolution =
  | { readonly ok: true; readonly channel: ChannelRef; readonly subject: string }
  | { readonly ok: false; readonly reason: string };

function eventSubject(tenant: string, channel: ChannelRef, tokens: readonly string[]): string {
  return [ROOT, 'ev', tenant, ...channel.tokens, ...tokens].join('.');
}

function checkParams(channelName: string, params: ChannelParams): Resolution | ChannelRef {
  const channel = findChannel(channelName);
  if (!channel) return { ok: false, reason: `Unknown channel: ${channelName}` };

  const known = channel.definition.params.properties;
  for (const [name, value] of Object.entries(params)) {
    if (!Object.hasOwn(known, name)) return { ok: false, reason: `Unknown parameter: ${name}` };
    if (!isSafeId(value))
      return { ok: false, reason: `Invalid parameter ${name}: ${SAFE_ID_RULE}` };
  }
  for (const name of requiredParams(channel.definition)) {
    if (params[name] === undefined)
      return { ok: false, reason: `Missing required parameter: ${name}` };
  }
  return channel;
}

/**
 * Resolves a subscribe request to the subject pattern it listens on. An absent
 * optional parameter becomes a `*` wildcard, so the subscription receives every
 * matching event of the tenant. `principalUserId` fills principal-sourced parameters.
 */
export function resolveSubscription(
  tenant: string,
  channelName: string,
  params: ChannelParams,
  principalUserId?: string,
): Resolution {
  const checked = checkParams(channelName, params);
  if ('ok' in checked) return checked;

  const { definition } = checked;
  const anyOf = definition.anyOf;
  if (anyOf && !anyOf.some((name) => params[name] !== undefined)) {
    return { ok: false, reason: `Missing required parameter: one of ${anyOf.join(', ')}` };
  }

  const tokens = definition.subject.map((name) => {
    if (definition.sources?.[name] === 'principal') return principalUserId ?? ABSENT;
    return params[name] ?? '*';
  });
  return { ok: true, channel: checked, subject: eventSubject(tenant, checked, tokens) };
}

/** Resolves a publish to the one concrete subject its event goes out on. */
export function resolvePublication(
  tenant: string,
  channelName: string,
  params: ChannelParams,
): Resolution {
  const checked = checkParams(channelName, params);
  if ('ok' in checked) return checked;

  const { definition } = checked;
  for (const name of definition.publishRequires) {
    if (params[name] === undefined)
      return { ok: false, reason: `Missing required parameter: ${name}` };
  }
  const anyOf = definition.anyOf;
  if (anyOf && !anyOf.some((name) => params[name] !== undefined)) {
    return { ok: false, reason: `Missing required parameter: one of ${anyOf.join(', ')}` };
  }

  const tokens = definition.subject.map((name) => params[name] ?? ABSENT);
  return { ok: true, channel: checked, subject: eventSubject(tenant, checked, tokens) };
}
