import Type, { type Static } from 'typebox';

const Limit = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);

/** Limits of one plan. `null` means unlimited. */
export const PlanLimits = Type.Object({
  /** Open connections per account (tenant and user or app), across all gateways. */
  maxConnections: Limit,
  maxSubscriptionsPerConnection: Limit,
  messagesPerMinute: Limit,
});
export type PlanLimits = Static<typeof PlanLimits>;

/** The plans of API v1 with their published limits; the config file may override them. */
export const DEFAULT_PLANS: Readonly<Record<string, PlanLimits>> = {
  free: { maxConnections: 5, maxSubscriptionsPerConnection: 10, messagesPerMinute: 60 },
  professional: { maxConnections: 25, maxSubscriptionsPerConnection: 50, messagesPerMinute: 300 },
  business: { maxConnections: 100, maxSubscriptionsPerConnection: 200, messagesPerMinute: 1000 },
  enterprise: {
    maxConnections: null,
    maxSubscriptionsPerConnection: null,
    messagesPerMinute: null,
  },
};

/** Limits that apply before a connection has authenticated: those of the smallest plan. */
export const UNAUTHENTICATED_LIMITS: PlanLimits = DEFAULT_PLANS.free!;
