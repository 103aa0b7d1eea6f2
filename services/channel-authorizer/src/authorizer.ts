import {
  resolveSubscription,
  subscriptionId,
  type AuthorizeReply,
  type AuthorizeRequest,
} from '@switchboard/protocol';

import type { SubscribePolicy } from './policy.ts';

const REFUSED = 'Unable to subscribe to the specified channel';

/** Turns a subscribe request into a grant: the subscription id and the subjects to listen on. */
export class ChannelAuthorizer {
  constructor(private readonly policy: SubscribePolicy) {}

  authorize({ principal, channel, params }: AuthorizeRequest): AuthorizeReply {
    const resolved = resolveSubscription(principal.tenant, channel, params, principal.userId);
    if (!resolved.ok) {
      return {
        ok: false,
        code: 'invalid_subscription',
        message: REFUSED,
        details: { reason: resolved.reason, channel },
      };
    }

    const decision = this.policy.decide(principal, resolved.channel, params);
    if (!decision.allow) {
      return {
        ok: false,
        code: decision.code,
        message: REFUSED,
        details: { reason: decision.reason, channel },
      };
    }

    const effective = { ...params };
    for (const [name, source] of Object.entries(resolved.channel.definition.sources ?? {})) {
      if (source === 'principal' && principal.userId !== undefined)
        effective[name] = principal.userId;
    }
    return {
      ok: true,
      grant: {
        channel,
        subscriptionId: subscriptionId(channel, effective),
        subjects: [resolved.subject],
      },
    };
  }
}
