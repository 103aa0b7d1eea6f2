import { requestJson, type Bus } from '@switchboard/bus';
import {
  AuthorizeReply,
  decoder,
  ServiceSubjects,
  type AuthorizeRequest,
} from '@switchboard/protocol';
import { inSpan, SpanKind, traceHeaders } from '@switchboard/telemetry';

const decodeReply = decoder(AuthorizeReply);

/** The channel-authorizer gave no usable answer; callers deny with a temporary error. */
export class AuthorizerUnavailableError extends Error {
  override name = 'AuthorizerUnavailableError';
}

/** Asks the channel-authorizer, over the bus, for a subscription grant. */
export class AuthorizerClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  authorize(request: AuthorizeRequest): Promise<AuthorizeReply> {
    return inSpan(
      'authz.subscribe',
      { kind: SpanKind.CLIENT, attributes: { channel: request.channel } },
      async () => {
        try {
          return await requestJson(
            this.bus,
            ServiceSubjects.authorizeSubscribe,
            request,
            decodeReply,
            {
              timeoutMs: this.timeoutMs,
              headers: traceHeaders(),
            },
          );
        } catch (cause) {
          throw new AuthorizerUnavailableError('channel-authorizer unavailable', { cause });
        }
      },
    );
  }
}
