import { BusNoRespondersError, BusTimeoutError, requestJson, type Bus } from '@switchboard/bus';
import {
  decoder,
  delegateSubject,
  DelegateReply,
  type DelegatePolicy,
  type DelegateRequest,
  type PermissionChange,
} from '@switchboard/protocol';
import { inSpan, SpanKind, traceHeaders, type Logger } from '@switchboard/telemetry';

/** Defaults of a delegate policy that does not set them. */
export const DELEGATE_DEFAULTS = { cacheTtlMs: 30_000, timeoutMs: 1_000 } as const;
/** Most cached answers the authorizer keeps, over all tenants; the oldest go first. */
const MAX_CACHED = 100_000;

/** What a delegate said, or that it could not be asked. */
export type DelegateAnswer =
  | { readonly kind: 'allow'; readonly ids?: readonly string[] }
  | { readonly kind: 'deny'; readonly reason?: string }
  | { readonly kind: 'not_found'; readonly reason?: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

interface Entry {
  readonly userId?: string;
  readonly appId?: string;
  readonly resource: string;
  readonly id?: string;
  readonly answer: DelegateAnswer;
  readonly expiresAt: number;
}

const decodeReply = decoder(DelegateReply);

/**
 * Asks domain services (`sb.authz.<resource>`) whether a principal may subscribe to a
 * resource, and caches their answers per tenant, principal, resource and id. A service
 * that does not answer in time, or answers nonsense, is `unavailable`: the caller denies.
 * Permission changes remove the matching answers at once.
 */
export class DelegateClient {
  readonly #cache = new Map<string, Map<string, Entry>>();
  readonly #inFlight = new Map<string, Promise<DelegateAnswer>>();
  #size = 0;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** `fresh`: skip the cache (a permission change is being applied) but store the answer. */
  async ask(
    policy: DelegatePolicy,
    request: DelegateRequest,
    fresh = false,
  ): Promise<DelegateAnswer> {
    const key = [request.user_id ?? '', request.app_id ?? '', request.resource, request.id ?? '*']
      .map((part) => part.replaceAll('\u0000', ''))
      .join('\u0000');
    if (!fresh) {
      const cached = this.#cache.get(request.tenant)?.get(key);
      if (cached && cached.expiresAt > this.now()) return cached.answer;
      const pending = this.#inFlight.get(`${request.tenant}\u0000${key}`);
      if (pending) return pending;
    }

    const flight = this.#call(policy, request).then((result) => {
      const ttl = Math.min(
        result.ttlMs ?? Infinity,
        policy.cacheTtlMs ?? DELEGATE_DEFAULTS.cacheTtlMs,
      );
      if (result.answer.kind !== 'unavailable' && ttl > 0) {
        this.#store(request.tenant, key, {
          userId: request.user_id,
          appId: request.app_id,
          resource: request.resource,
          id: request.id,
          answer: result.answer,
          expiresAt: this.now() + ttl,
        });
      }
      return result.answer;
    });
    if (!fresh) {
      const flightKey = `${request.tenant}\u0000${key}`;
      this.#inFlight.set(flightKey, flight);
      void flight.finally(() => this.#inFlight.delete(flightKey));
    }
    return flight;
  }

  /** Forgets every cached answer the change may have made wrong. */
  invalidate(tenant: string, change: PermissionChange): number {
    const entries = this.#cache.get(tenant);
    if (!entries) return 0;
    let removed = 0;
    for (const [key, entry] of entries) {
      if (change.user_id !== undefined && change.user_id !== entry.userId) continue;
      if (change.app_id !== undefined && change.app_id !== entry.appId) continue;
      if (change.resource !== undefined && change.resource !== entry.resource) continue;
      // A change of one resource id also changes the list answer (no id) of that resource.
      if (change.id !== undefined && entry.id !== undefined && change.id !== entry.id) continue;
      entries.delete(key);
      removed++;
    }
    this.#size -= removed;
    if (entries.size === 0) this.#cache.delete(tenant);
    return removed;
  }

  /** Forgets every cached answer. */
  clear(): void {
    this.#cache.clear();
    this.#size = 0;
  }

  get cachedAnswers(): number {
    return this.#size;
  }

  #store(tenant: string, key: string, entry: Entry): void {
    let entries = this.#cache.get(tenant);
    if (!entries) this.#cache.set(tenant, (entries = new Map<string, Entry>()));
    if (!entries.delete(key)) this.#size++;
    entries.set(key, entry);
    while (this.#size > MAX_CACHED) this.#evictOne();
  }

  #evictOne(): void {
    const first = this.#cache.entries().next();
    if (first.done) return;
    const [tenant, entries] = first.value;
    const oldest = entries.keys().next().value;
    if (oldest === undefined) return;
    entries.delete(oldest);
    this.#size--;
    if (entries.size === 0) this.#cache.delete(tenant);
  }

  async #call(
    policy: DelegatePolicy,
    request: DelegateRequest,
  ): Promise<{ answer: DelegateAnswer; ttlMs?: number }> {
    const subject = delegateSubject(policy.resource);
    const timeoutMs = policy.timeoutMs ?? DELEGATE_DEFAULTS.timeoutMs;
    return inSpan(
      'authz.delegate',
      { kind: SpanKind.CLIENT, attributes: { resource: policy.resource } },
      async () => {
        let reply: DelegateReply;
        try {
          reply = await requestJson(this.bus, subject, request, decodeReply, {
            timeoutMs,
            headers: traceHeaders(),
          });
        } catch (err) {
          const reason =
            err instanceof BusTimeoutError
              ? `The ${policy.resource} service did not answer within ${timeoutMs} ms`
              : err instanceof BusNoRespondersError
                ? `No ${policy.resource} service is answering`
                : `The ${policy.resource} service gave an unusable answer`;
          this.logger.warn({ err, subject, tenant: request.tenant }, 'delegate unavailable');
          return { answer: { kind: 'unavailable', reason } };
        }
        const answer: DelegateAnswer =
          reply.decision === 'allow'
            ? { kind: 'allow', ids: reply.ids }
            : { kind: reply.decision, reason: reply.reason };
        return { answer, ttlMs: reply.ttl_ms };
      },
    );
  }
}
