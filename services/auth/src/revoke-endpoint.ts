import type { Bus } from '@switchboard/bus';
import {
  ControlSubjects,
  decoder,
  encodeJson,
  Revocation,
  ServiceSubjects,
  type OkReply,
  type RevocationNotice,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { RevocationStore } from './revocations.ts';

const decodeRevocation = decoder(Revocation);

/**
 * Serves `sb.svc.auth.revoke`: stores the revocation (so later attempts are refused),
 * then tells every gateway on `sb.ctl.revoked` to close the connections it covers.
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
      const at = Date.now();
      await store.add(revocation, at);
      const notice: RevocationNotice = { ...revocation, at };
      bus.publish(ControlSubjects.revoked, encodeJson(notice));
      logger.info({ tenant: revocation.tenant, kind: revocation.kind }, 'credential revoked');
      return encodeJson({ ok: true } satisfies OkReply);
    },
  );
}
