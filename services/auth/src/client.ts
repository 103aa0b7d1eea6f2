import { requestJson, type Bus } from '@switchboard/bus';
import { AuthReply, decoder, ServiceSubjects, type AuthRequest } from '@switchboard/protocol';
import { inSpan, SpanKind, traceHeaders } from '@switchboard/telemetry';

const decodeReply = decoder(AuthReply);

/** The auth service could not give an answer (down, slow or broken); callers fail closed. */
export class AuthUnavailableError extends Error {
  override name = 'AuthUnavailableError';
}

/** Asks the auth service, over the bus, who a credential belongs to. */
export class AuthClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  verify(request: AuthRequest): Promise<AuthReply> {
    return inSpan('auth.verify', { kind: SpanKind.CLIENT }, async () => {
      try {
        return await requestJson(this.bus, ServiceSubjects.authVerify, request, decodeReply, {
          timeoutMs: this.timeoutMs,
          headers: traceHeaders(),
        });
      } catch (cause) {
        throw new AuthUnavailableError('auth service unavailable', { cause });
      }
    });
  }
}
