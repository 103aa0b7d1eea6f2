import type { ChannelParams, ChannelRef, ErrorCode, Principal } from '@switchboard/protocol';

export type Decision =
  | { readonly allow: true }
  | { readonly allow: false; readonly code: ErrorCode; readonly reason: string };

/**
 * Decides whether a principal may subscribe to a resolved channel. Policies are
 * synchronous today; the identity work (membership, delegation) will make this async.
 */
export interface SubscribePolicy {
  decide(principal: Principal, channel: ChannelRef, params: ChannelParams): Decision;
}

const ALLOW: Decision = { allow: true };

/**
 * The default: any principal of the tenant with the `subscribe` scope may subscribe;
 * principal-sourced parameters (the user of `notifications`) must be the principal's own.
 */
export const tenantWidePolicy: SubscribePolicy = {
  decide(principal, channel, params) {
    if (!principal.scopes.includes('subscribe')) {
      return {
        allow: false,
        code: 'permission_denied',
        reason: 'Credential lacks the subscribe scope',
      };
    }
    for (const [name, source] of Object.entries(channel.definition.sources ?? {})) {
      if (source !== 'principal') continue;
      if (principal.userId === undefined) {
        return {
          allow: false,
          code: 'permission_denied',
          reason: `${channel.definition.name} needs a user`,
        };
      }
      const given = params[name];
      if (given !== undefined && given !== principal.userId) {
        return { allow: false, code: 'permission_denied', reason: `${name} must be your own` };
      }
    }
    return ALLOW;
  },
};
