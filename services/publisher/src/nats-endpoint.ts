import type { Bus } from '@switchboard/bus';
import { encodeJson, ServiceSubjects } from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import { credentialFrom } from './http.ts';
import type { EventPublisher } from './publisher.ts';

/**
 * Serves `sb.svc.publisher.publish` for domain services on NATS: the same body as
 * `POST /v1/events`, the server key in an `authorization` header, and a reply of
 * `{ ok: true, id }` or `{ ok: false, code, message, details }`.
 */
export async function servePublishEndpoint(
  bus: Bus,
  publisher: EventPublisher,
  options: { maxBodyBytes: number; logger: Logger },
): Promise<void> {
  const { maxBodyBytes, logger } = options;
  await bus.serve(
    {
      service: 'publisher',
      name: 'publish',
      subject: ServiceSubjects.publish,
      description: 'publish an event',
    },
    async (message) => {
      const headers = message.headers ?? {};
      const credential = credentialFrom(headers.authorization ?? '', headers['x-api-key'] ?? '');
      if (message.data.byteLength > maxBodyBytes) {
        const reason = `Body exceeds ${maxBodyBytes} bytes`;
        return encodeJson({
          ok: false,
          code: 'payload_too_large',
          message: reason,
          details: { reason },
        });
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(message.data).toString('utf8'));
      } catch {
        const reason = 'Body is not valid JSON';
        return encodeJson({
          ok: false,
          code: 'invalid_message_format',
          message: reason,
          details: { reason },
        });
      }
      try {
        return encodeJson(await publisher.publish(credential, body, 'nats', headers));
      } catch (err) {
        logger.error({ err }, 'publish failed');
        return encodeJson({
          ok: false,
          code: 'server_error',
          message: 'Publish failed',
          temporary: true,
        });
      }
    },
  );
}
