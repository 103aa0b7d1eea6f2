import {
  subscriptionId,
  type AuthorizeReply,
  type AuthorizeRequest,
  type ChannelRegistry,
  type GrantReply,
  type Principal,
  type SubscribeItem,
} from '@switchboard/protocol';

import type { DelegateClient } from './delegates.ts';
import { decide, type Decision } from './policy.ts';

const REFUSED = 'Unable to subscribe to the specified channel';
/** Most subjects one membership-limited subscription may expand to. */
export const MAX_GRANT_SUBJECTS = 256;

/**
 * Turns subscribe requests into grants: the subscription id and the subjects to listen
 * on, after the channel's policies (see docs/channels.md) have allowed it.
 */
export class ChannelAuthorizer {
  constructor(
    private readonly registry: ChannelRegistry,
    private readonly delegates: DelegateClient,
  ) {}

  async authorize({ principal, items, fresh = false }: AuthorizeRequest): Promise<AuthorizeReply> {
    const results = await Promise.all(
      items.map((item) => this.authorizeOne(principal, item, fresh)),
    );
    return { ok: true, results };
  }

  async authorizeOne(
    principal: Principal,
    { channel, params }: SubscribeItem,
    fresh = false,
  ): Promise<GrantReply> {
    const refuse = (code: string, reason: string, temporary?: boolean): GrantReply => ({
      ok: false,
      code,
      message: REFUSED,
      temporary: temporary || undefined,
      details: { reason, channel },
    });

    const ref = this.registry.find(channel);
    if (!ref) return refuse('invalid_subscription', `Unknown channel: ${channel}`);
    const { policies } = ref.definition;

    // own_user fills its parameter in, so the checks below see the principal's id.
    const effective: Record<string, string> = { ...params };
    for (const policy of policies) {
      if (policy.type === 'own_user' && principal.userId !== undefined)
        effective[policy.param] ??= principal.userId;
    }
    const checked = this.registry.checkSubscription(channel, effective);
    if (!checked.ok) return refuse('invalid_subscription', checked.reason);

    if (!principal.scopes.includes('subscribe'))
      return refuse('permission_denied', 'The credential lacks the subscribe scope');
    for (const policy of policies) {
      if (policy.type !== 'own_user') continue;
      if (principal.userId === undefined)
        return refuse('permission_denied', `${channel} needs a credential with a user`);
      if (effective[policy.param] !== principal.userId)
        return refuse('permission_denied', `${policy.param} must be your own`);
    }

    const decisions: Decision[] = await Promise.all(
      policies.map((policy) =>
        decide(policy, { principal, channel: ref, params: effective, fresh }, this.delegates),
      ),
    );
    const refusal = decisions.find((d) => !d.allow);
    if (refusal && !refusal.allow) return refuse(refusal.code, refusal.reason, refusal.temporary);

    const dependsOn = [...new Set(decisions.flatMap((d) => (d.allow && d.dependsOn) || []))];
    const limit = decisions.find((d) => d.allow && d.limitTo);
    let subjects: string[];
    if (limit?.allow && limit.limitTo) {
      const { param, ids } = limit.limitTo;
      const unique = [...new Set(ids)];
      if (unique.length > MAX_GRANT_SUBJECTS)
        return refuse(
          'invalid_subscription',
          `You may see ${unique.length} resources; a subscription without ${param} covers at most ${MAX_GRANT_SUBJECTS}; subscribe per ${param}`,
        );
      subjects = unique.map((id) =>
        this.registry.subscriptionSubject(principal.tenant, ref, { ...effective, [param]: id }),
      );
    } else {
      subjects = [this.registry.subscriptionSubject(principal.tenant, ref, effective)];
    }
    return {
      ok: true,
      grant: {
        channel,
        subscriptionId: subscriptionId(channel, effective),
        subjects,
        dependsOn: dependsOn.length > 0 ? dependsOn : undefined,
      },
    };
  }
}
