/** Limits of one plan. `null` means unlimited. */
export interface PlanLimits {
  readonly maxConnections: number | null;
  readonly maxSubscriptionsPerConnection: number | null;
  readonly messagesPerMinute: number | null;
}

/** The plans of API v1 with their published limits; deployments may override them. */
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

export function isKnownPlan(plan: string): boolean {
  return Object.hasOwn(DEFAULT_PLANS, plan);
}
