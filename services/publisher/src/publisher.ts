import type { Bus } from '@switchboard/bus';
import type { CredentialVerifier } from '@switchboard/auth';
import {
  ChannelRegistry,
  encodeBusEvent,
  type ErrorCode,
  type ErrorDetails,
} from '@switchboard/protocol';
import {
  contextFromHeaders,
  inSpan,
  SpanKind,
  traceHeaders as currentTraceHeaders,
  type Logger,
} from '@switchboard/telemetry';
import Type from 'typebox';
import { Compile } from 'typebox/compile';

/** A publish request body: channel, event, the channel's parameters at the top level, data. */
const PublishBody = Type.Object(
  {
    channel: Type.String({ minLength: 1, maxLength: 256 }),
    event: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$', maxLength: 128 }),
    data: Type.Unknown(),
  },
  { additionalProperties: Type.String({ maxLength: 256 }) },
);
const checkBody = Compile(PublishBody);

export type PublishOutcome =
  | { readonly ok: true; readonly id: string }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      readonly details?: ErrorDetails;
      readonly temporary?: boolean;
    };

/** HTTP status for each publish outcome code. */
export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_message_format: 400,
  invalid_channel: 400,
  invalid_credentials: 401,
  permission_denied: 403,
  payload_too_large: 413,
  server_error: 503,
};

function bodyProblem(body: unknown): PublishOutcome | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const reason = 'Body must be a JSON object';
    return { ok: false, code: 'invalid_message_format', message: reason, details: { reason } };
  }
  if (checkBody.Check(body)) return undefined;

  const [first] = checkBody.Errors(body);
  const required = (first?.params as { requiredProperties?: string[] } | undefined)
    ?.requiredProperties;
  const field = required?.[0] ?? first?.instancePath.replace(/^\//, '');
  const reason = required ? `Missing field: ${field}` : `Invalid field ${field}: ${first?.message}`;
  return { ok: false, code: 'invalid_message_format', message: reason, details: { field, reason } };
}

/**
 * The ingress for domain services: authenticates a server key, validates the event
 * against the channel catalog and publishes it on the tenant's event subject.
 */
export class EventPublisher {
  constructor(
    private readonly bus: Bus,
    private readonly auth: CredentialVerifier,
    private readonly logger: Logger,
    private readonly channels: ChannelRegistry = ChannelRegistry.defaults(),
  ) {}

  /**
   * Publishes one event. `traceHeaders` are the caller's W3C trace context, if any, so
   * the publish continues the domain service's trace.
   */
  publish(
    credential: string | undefined,
    body: unknown,
    via: 'http' | 'nats',
    traceHeaders?: Readonly<Record<string, string>>,
  ): Promise<PublishOutcome> {
    const parent = traceHeaders?.traceparent ? contextFromHeaders(traceHeaders) : undefined;
    const options = { kind: SpanKind.SERVER, attributes: { via }, parent };
    return inSpan('publish', options, async (span) => {
      const outcome = await this.#publish(credential, body);
      span.setAttribute('outcome', outcome.ok ? 'accepted' : outcome.code);
      return outcome;
    });
  }

  async #publish(credential: string | undefined, body: unknown): Promise<PublishOutcome> {
    if (!credential)
      return { ok: false, code: 'invalid_credentials', message: 'Missing server key' };

    const problem = bodyProblem(body);
    if (problem) return problem;
    const { channel, event, data, ...params } = body as Record<string, unknown> & {
      channel: string;
      event: string;
    };

    let reply;
    try {
      reply = await this.auth.verify({ api_key: credential });
    } catch (err) {
      this.logger.error({ err }, 'auth unavailable for publish');
      return {
        ok: false,
        code: 'server_error',
        message: 'Authentication is unavailable',
        temporary: true,
      };
    }
    if (!reply.ok) return { ok: false, code: 'invalid_credentials', message: 'Invalid server key' };
    const { principal } = reply;
    if (!principal.scopes.includes('publish')) {
      return { ok: false, code: 'permission_denied', message: 'Key lacks the publish scope' };
    }

    const resolved = this.channels.resolvePublication(
      principal.tenant,
      channel,
      params as Record<string, string>,
    );
    if (!resolved.ok) {
      return {
        ok: false,
        code: 'invalid_channel',
        message: 'Unable to publish to the specified channel',
        details: { reason: resolved.reason, channel },
      };
    }

    const { id, payload } = encodeBusEvent({ channel, event, data });
    if (payload.length > this.bus.maxPayloadBytes) {
      const reason = `The event is ${payload.length} bytes; the bus carries at most ${this.bus.maxPayloadBytes}`;
      return { ok: false, code: 'payload_too_large', message: reason, details: { reason } };
    }
    this.bus.publish(resolved.subject, payload, currentTraceHeaders());
    this.logger.debug(
      { tenant: principal.tenant, channel, subject: resolved.subject, eventId: id },
      'event published',
    );
    return { ok: true, id };
  }
}
