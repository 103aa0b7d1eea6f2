import { requestJson, type Bus } from '@switchboard/bus';
import { decoder, LimitsReply, ServiceSubjects, type ConnectionLease } from '@switchboard/protocol';

const decodeReply = decoder(LimitsReply);

/** The limits endpoint gave no usable answer; new connections fail closed. */
export class LimitsUnavailableError extends Error {
  override name = 'LimitsUnavailableError';
}

/** A gateway's view of the connection-limit endpoints. */
export class LimitsClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  acquire(lease: ConnectionLease, limit: number): Promise<LimitsReply> {
    return this.#call(ServiceSubjects.connectionAcquire, { lease, limit });
  }

  async release(lease: ConnectionLease): Promise<void> {
    await this.#call(ServiceSubjects.connectionRelease, lease);
  }

  /** True when the instance was alive already; false when new or back after its lease ran out. */
  async heartbeat(gateway: string): Promise<boolean> {
    const reply = await this.#call(ServiceSubjects.gatewayHeartbeat, { gateway });
    return reply.ok && reply.count === 1;
  }

  async #call(subject: string, body: unknown): Promise<LimitsReply> {
    try {
      return await requestJson(this.bus, subject, body, decodeReply, { timeoutMs: this.timeoutMs });
    } catch (cause) {
      throw new LimitsUnavailableError('limits endpoint unavailable', { cause });
    }
  }
}
