import type {
  ChannelParams,
  ChannelRef,
  ClaimPolicy,
  DelegatePolicy,
  ErrorCode,
  PolicySpec,
  Principal,
} from '@switchboard/protocol';

import type { DelegateClient } from './delegates.ts';

/**
 * A policy's verdict. `limitTo` narrows a subscription that left the policy's parameter
 * out to the ids the principal may see; `dependsOn` names a delegate resource whose
 * permission changes must re-evaluate the subscription.
 */
export type Decision =
  | {
      readonly allow: true;
      readonly limitTo?: { readonly param: string; readonly ids: readonly string[] };
      readonly dependsOn?: string;
    }
  | {
      readonly allow: false;
      readonly code: ErrorCode;
      readonly reason: string;
      readonly temporary?: boolean;
    };

export interface PolicyInput {
  readonly principal: Principal;
  readonly channel: ChannelRef;
  /** The parameters after `own_user` filled in the principal's id. */
  readonly params: ChannelParams;
  /** Ask delegates again rather than answer from the cache. */
  readonly fresh: boolean;
}

const ALLOW: Decision = { allow: true };

function deny(reason: string, code: ErrorCode = 'permission_denied'): Decision {
  return { allow: false, code, reason };
}

function claimDecision(policy: ClaimPolicy, { principal, channel, params }: PolicyInput): Decision {
  const list = principal.claims?.[policy.claim];
  if (!list) return deny(`The credential has no ${policy.claim} claim`);
  const wanted = params[policy.param];
  if (wanted !== undefined) {
    return list.includes(wanted)
      ? ALLOW
      : deny(`${policy.param} ${wanted} is not listed in your ${policy.claim} claim`);
  }
  const param = channel.definition.params.find((p) => p.name === policy.param);
  const ids = list.filter((id) => param?.check(id) === undefined);
  return { allow: true, limitTo: { param: policy.param, ids } };
}

async function delegateDecision(
  policy: DelegatePolicy,
  { principal, channel, params, fresh }: PolicyInput,
  delegates: DelegateClient,
): Promise<Decision> {
  const id = policy.param === undefined ? undefined : params[policy.param];
  const answer = await delegates.ask(
    policy,
    {
      tenant: principal.tenant,
      user_id: principal.userId,
      app_id: principal.appId,
      scopes: principal.scopes,
      resource: policy.resource,
      id,
      channel: channel.tokens.join('.'),
      action: 'subscribe',
    },
    fresh,
  );
  const dependsOn = policy.resource;
  switch (answer.kind) {
    case 'unavailable':
      return { allow: false, code: 'server_error', reason: answer.reason, temporary: true };
    case 'not_found':
      return deny(answer.reason ?? `No such ${policy.resource}: ${id}`, 'resource_not_found');
    case 'deny':
      return deny(answer.reason ?? `Not allowed by the ${policy.resource} service`);
    case 'allow':
      if (policy.param === undefined || id !== undefined || answer.ids === undefined)
        return { allow: true, dependsOn };
      return { allow: true, dependsOn, limitTo: { param: policy.param, ids: answer.ids } };
  }
}

/**
 * Applies one policy of a channel. Every channel also requires the `subscribe` scope,
 * which the authorizer checks first; `own_user` is applied before, by filling in the id.
 */
export async function decide(
  policy: PolicySpec,
  input: PolicyInput,
  delegates: DelegateClient,
): Promise<Decision> {
  switch (policy.type) {
    case 'tenant':
    case 'own_user':
      return ALLOW;
    case 'scope':
      return input.principal.scopes.includes(policy.scope)
        ? ALLOW
        : deny(`The credential lacks the ${policy.scope} scope`);
    case 'claim':
      return claimDecision(policy, input);
    case 'delegate':
      return delegateDecision(policy, input, delegates);
  }
}
