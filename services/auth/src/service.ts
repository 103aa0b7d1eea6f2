import type { Bus } from '@switchboard/bus';
import { AuthRequest, decoder, encodeJson, ServiceSubjects } from '@switchboard/protocol';
import { contextFromHeaders, inSpan, SpanKind, type Logger } from '@switchboard/telemetry';

import type { Authenticator } from './authenticator.ts';

const decodeRequest = decoder(AuthRequest);

/** Serves `sb.svc.auth.verify`: API key or JWT in, principal (or refusal) out. */
export async function serveAuth(
  bus: Bus,
  authenticator: Authenticator,
  logger: Logger,
): Promise<void> {
  await bus.serve(
    {
      service: 'auth',
      name: 'verify',
      subject: ServiceSubjects.authVerify,
      description: 'verify a credential',
    },
    (message) => {
      const parent = message.headers && contextFromHeaders(message.headers);
      return inSpan('auth.serve', { kind: SpanKind.SERVER, parent }, () => answer(message.data));
    },
  );

  async function answer(data: Uint8Array): Promise<Uint8Array> {
    let request: AuthRequest;
    try {
      request = decodeRequest(data);
    } catch (err) {
      logger.warn({ err }, 'malformed auth request');
      return encodeJson({
        ok: false,
        code: 'invalid_message_format',
        message: 'malformed auth request',
      });
    }

    const reply = await authenticator.authenticate(request);
    if (reply.ok) {
      const { tenant, userId, appId, method, credentialId } = reply.principal;
      logger.debug({ tenant, userId, appId, method, credentialId }, 'credential verified');
    } else {
      logger.info({ code: reply.code, reason: reply.message }, 'credential refused');
    }
    return encodeJson(reply);
  }
}
