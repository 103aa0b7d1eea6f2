import type { Bus } from '@switchboard/bus';
import {
  decoder,
  encodeJson,
  Revocation,
  ServiceSubjects,
  type OkReply,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { RevocationStore } from './revocations.ts';

const decodeRevocation = decoder(Revocation);

/**
 * Serves `sb.svc.auth.revoke`: stores the revocation, so later attempts are refused and
 * every gateway following the store closes the connections it covers.
 */
export async function serveRevocations(
  bus: Bus,
  store: RevocationStore,
  logger: Logger,
): Promise<void> {
  await bus.serve(
    {
      service: 'auth',
      name: 'revoke',
      subject: ServiceSubjects.authRevoke,
      description: 'revoke a credential',
    },
    async (message) => {
      const revocation = decodeRevocation(message.data);
      await store.add(revocation, Date.now());
      logger.info({ tenant: revocation.tenant, kind: revocation.kind }, 'credential revoked');
      return encodeJson({ ok: true } satisfies OkReply);
    },
  );
}
