import { DEFAULT_PLANS, type PlanLimits } from '@switchboard/protocol';

import type { CredentialsFile } from './credentials-file.ts';

/**
 * The plan table: the API's default plans, plans added or changed in the config file,
 * and per-tenant overrides (custom Enterprise limits).
 */
export class PlanCatalog {
  readonly #plans: Record<string, PlanLimits>;
  readonly #tenants: NonNullable<CredentialsFile['tenants']>;

  constructor(config: Pick<CredentialsFile, 'plans' | 'tenants'>) {
    this.#plans = { ...DEFAULT_PLANS, ...config.plans };
    this.#tenants = config.tenants ?? {};
  }

  /** The limits of `plan` for `tenant`, or undefined when no such plan exists. */
  limitsFor(tenant: string, plan: string): PlanLimits | undefined {
    const base = Object.hasOwn(this.#plans, plan) ? this.#plans[plan] : undefined;
    if (!base) return undefined;
    const override = this.#tenants[tenant]?.limits;
    return override ? { ...base, ...override } : base;
  }
}
