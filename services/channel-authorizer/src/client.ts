import { JsonText, requestJson, type Bus } from '@switchboard/bus';
import {
  AuthorizeReply,
  decoder,
  encodeAuthorizeRequest,
  ServiceSubjects,
  type AuthorizeRequest,
  type GrantReply,
} from '@switchboard/protocol';
import { inSpan, SpanKind, traceHeaders } from '@switchboard/telemetry';

const decodeReply = decoder(AuthorizeReply);

/** The channel-authorizer gave no usable answer; callers deny with a temporary error. */
export class AuthorizerUnavailableError extends Error {
  override name = 'AuthorizerUnavailableError';
}

/** Asks the channel-authorizer, over the bus, for subscription grants. */
export class AuthorizerClient {
  constructor(
    private readonly bus: Bus,
    private readonly timeoutMs: number,
  ) {}

  /** One answer per item, in order; several subscriptions cost one round trip. */
  authorize(request: AuthorizeRequest): Promise<GrantReply[]> {
    return inSpan(
      'authz.subscribe',
      { kind: SpanKind.CLIENT, attributes: { subscriptions: request.items.length } },
      async () => {
        let reply: AuthorizeReply;
        try {
          reply = await requestJson(
            this.bus,
            ServiceSubjects.authorizeSubscribe,
            new JsonText(encodeAuthorizeRequest(request)),
            decodeReply,
            { timeoutMs: this.timeoutMs, headers: traceHeaders() },
          );
        } catch (cause) {
          throw new AuthorizerUnavailableError('channel-authorizer unavailable', { cause });
        }
        if (!reply.ok || reply.results.length !== request.items.length)
          throw new AuthorizerUnavailableError(
            `channel-authorizer refused the request: ${reply.ok ? 'wrong number of answers' : reply.message}`,
          );
        return reply.results;
      },
    );
  }
}
