import type { Bus } from '@switchboard/bus';
import { AuthorizeRequest, decoder, encodeJson, ServiceSubjects } from '@switchboard/protocol';
import { contextFromHeaders, inSpan, SpanKind, type Logger } from '@switchboard/telemetry';

import { ChannelAuthorizer } from './authorizer.ts';
import { tenantWidePolicy } from './policy.ts';

const decodeRequest = decoder(AuthorizeRequest);

/** Serves `sb.svc.authz.subscribe` with the default tenant-wide policy. */
export async function startChannelAuthorizer(bus: Bus, logger: Logger): Promise<void> {
  const authorizer = new ChannelAuthorizer(tenantWidePolicy);
  await bus.serve(
    {
      service: 'channel-authorizer',
      name: 'subscribe',
      subject: ServiceSubjects.authorizeSubscribe,
      description: 'authorize a subscription',
    },
    (message) => {
      const parent = message.headers && contextFromHeaders(message.headers);
      return inSpan('authz.serve', { kind: SpanKind.SERVER, parent }, () =>
        Promise.resolve(answer(message.data)),
      );
    },
  );

  function answer(data: Uint8Array): Uint8Array {
    let request: AuthorizeRequest;
    try {
      request = decodeRequest(data);
    } catch (err) {
      logger.warn({ err }, 'malformed authorize request');
      return encodeJson({
        ok: false,
        code: 'server_error',
        message: 'malformed authorize request',
      });
    }

    const reply = authorizer.authorize(request);
    const { tenant, userId, appId } = request.principal;
    if (!reply.ok)
      logger.info(
        { tenant, userId, appId, channel: request.channel, code: reply.code },
        'subscribe refused',
      );
    return encodeJson(reply);
  }
}
