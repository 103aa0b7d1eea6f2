import type { Bus } from '@switchboard/bus';
import {
  AcquireRequest,
  ConnectionLease,
  decoder,
  encodeJson,
  HeartbeatRequest,
  ServiceSubjects,
  type LimitsReply,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { ConnectionLedger } from './ledger.ts';

const decodeAcquire = decoder(AcquireRequest);
const decodeRelease = decoder(ConnectionLease);
const decodeHeartbeat = decoder(HeartbeatRequest);

/**
 * Serves the connection-limit endpoints gateways call: acquire when a connection
 * authenticates, release when it closes, and a heartbeat per gateway instance.
 */
export async function serveConnectionLimits(
  bus: Bus,
  ledger: ConnectionLedger,
  logger: Logger,
): Promise<void> {
  const service = 'channel-authorizer';

  await bus.serve(
    { service, name: 'acquire', subject: ServiceSubjects.connectionAcquire },
    async (message) => {
      const { lease, limit } = decodeAcquire(message.data);
      const result = await ledger.acquire(lease, limit);
      if (result.granted)
        return encodeJson({ ok: true, count: result.count } satisfies LimitsReply);

      logger.info(
        { account: lease.account, limit, count: result.count },
        'connection limit reached',
      );
      const reply: LimitsReply = {
        ok: false,
        code: 'connection_limit_exceeded',
        message: `The plan allows ${limit} connections for this account`,
        details: { limit },
      };
      return encodeJson(reply);
    },
  );

  await bus.serve(
    { service, name: 'release', subject: ServiceSubjects.connectionRelease },
    async (message) => {
      await ledger.release(decodeRelease(message.data));
      return encodeJson({ ok: true, count: 0 } satisfies LimitsReply);
    },
  );

  await bus.serve(
    { service, name: 'heartbeat', subject: ServiceSubjects.gatewayHeartbeat },
    async (message) => {
      // `count` 1: the instance was alive already; 0: it is new, or back after its lease ran out.
      const wasAlive = await ledger.heartbeat(decodeHeartbeat(message.data).gateway);
      return encodeJson({ ok: true, count: wasAlive ? 1 : 0 } satisfies LimitsReply);
    },
  );
}
