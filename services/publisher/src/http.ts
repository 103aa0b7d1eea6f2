import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';

import type { Logger } from '@switchboard/telemetry';

import type { AdminApi } from './admin.ts';
import { HTTP_STATUS, type EventPublisher, type PublishOutcome } from './publisher.ts';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  202: '202 Accepted',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  413: '413 Payload Too Large',
  503: '503 Service Unavailable',
};

/** The server key of a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function credentialFrom(authorization: string, apiKeyHeader: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return bearer?.[1] ?? (apiKeyHeader.trim() || undefined);
}

/** What a JSON route learnt from its request before any await. */
interface JsonRequest {
  readonly credential: string | undefined;
  readonly body: unknown;
  /** The caller's W3C trace context, when it sent one. */
  readonly trace: Record<string, string> | undefined;
}

/** Outcome of the publish API and the admin API; an error maps to its HTTP status. */
type Outcome =
  PublishOutcome | { readonly ok: true; readonly status: number; readonly body: unknown };

function send(res: HttpResponse, status: number, body: unknown, closeConnection = false): void {
  res.cork(() => {
    res
      .writeStatus(STATUS_TEXT[status] ?? `${status}`)
      .writeHeader('content-type', 'application/json')
      .end(JSON.stringify(body), closeConnection);
  });
}

function sendOutcome(res: HttpResponse, outcome: Outcome): void {
  if (outcome.ok && 'status' in outcome) return send(res, outcome.status, outcome.body);
  if (outcome.ok) return send(res, 202, { id: outcome.id, status: 'accepted' });
  const { code, message, details, temporary } = outcome;
  send(res, HTTP_STATUS[code] ?? 500, { error: { code, message, details, temporary } });
}

/**
 * Reads a request body up to `maxBytes` as text. Calls `onBody` once with the body, or
 * with `undefined` when it is too large (the caller answers 413 and closes).
 */
function readBody(
  res: HttpResponse,
  maxBytes: number,
  onBody: (body: string | undefined) => void,
): void {
  let chunks: Buffer[] | undefined;
  let size = 0;
  let done = false;
  res.onData((chunk, isLast) => {
    if (done) return;
    size += chunk.byteLength;
    if (size > maxBytes) {
      done = true;
      return onBody(undefined);
    }
    // uWS reuses the chunk's memory after this callback returns: a body in one chunk is
    // decoded right here, a longer one copied chunk by chunk.
    if (isLast && !chunks) {
      done = true;
      return onBody(Buffer.from(chunk).toString('utf8'));
    }
    (chunks ??= []).push(Buffer.from(Buffer.from(chunk)));
    if (isLast) {
      done = true;
      onBody(Buffer.concat(chunks).toString('utf8'));
    }
  });
}

/**
 * A `POST` route taking a JSON body of at most `maxBodyBytes`: headers are read before
 * anything awaits (uWebSockets.js invalidates the request), aborts are tracked, and a
 * handler that throws answers 503.
 */
function mountJsonRoute(
  app: TemplatedApp,
  path: string,
  options: { maxBodyBytes: number; logger: Logger },
  handle: (request: JsonRequest) => Promise<Outcome>,
): void {
  const { maxBodyBytes, logger } = options;
  const tooLarge = {
    error: { code: 'payload_too_large', message: `Body exceeds ${maxBodyBytes} bytes` },
  };

  app.post(path, (res, req) => {
    const credential = credentialFrom(req.getHeader('authorization'), req.getHeader('x-api-key'));
    const declared = Number(req.getHeader('content-length') || 0);
    const traceparent = req.getHeader('traceparent');
    const trace = traceparent
      ? { traceparent, tracestate: req.getHeader('tracestate') }
      : undefined;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    if (declared > maxBodyBytes) return send(res, 413, tooLarge, true);

    readBody(res, maxBodyBytes, (raw) => {
      if (!raw) return send(res, 413, tooLarge, true);

      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        const reason = 'Body is not valid JSON';
        const error = { code: 'invalid_message_format', message: reason, details: { reason } };
        return send(res, 400, { error });
      }

      handle({ credential, body, trace }).then(
        (outcome) => {
          if (!aborted) sendOutcome(res, outcome);
        },
        (err: unknown) => {
          logger.error({ err, path }, 'request failed');
          const error = { code: 'server_error', message: 'Request failed', temporary: true };
          if (!aborted) send(res, 503, { error });
        },
      );
    });
  });
}

/** Mounts `POST /v1/events` on a uWebSockets.js app. */
export function mountPublishApi(
  app: TemplatedApp,
  publisher: EventPublisher,
  options: { maxBodyBytes: number; logger: Logger },
): void {
  mountJsonRoute(app, '/v1/events', options, ({ credential, body, trace }) =>
    publisher.publish(credential, body, 'http', trace),
  );
}

/**
 * Mounts the admin API (keys with the `admin` scope): `POST /v1/admin/revocations`,
 * `POST /v1/admin/permission-changes`, `POST /v1/admin/keys` and `GET /v1/admin/keys`.
 */
export function mountAdminApi(
  app: TemplatedApp,
  admin: AdminApi,
  options: { maxBodyBytes: number; logger: Logger },
): void {
  mountJsonRoute(app, '/v1/admin/revocations', options, ({ credential, body }) =>
    admin.revoke(credential, body),
  );
  mountJsonRoute(app, '/v1/admin/permission-changes', options, ({ credential, body }) =>
    admin.permissionChange(credential, body),
  );
  mountJsonRoute(app, '/v1/admin/keys', options, ({ credential, body }) =>
    admin.createKey(credential, body),
  );
  app.get('/v1/admin/keys', (res, req) => {
    const credential = credentialFrom(req.getHeader('authorization'), req.getHeader('x-api-key'));
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    admin.listKeys(credential).then(
      (outcome) => {
        if (!aborted) sendOutcome(res, outcome);
      },
      (err: unknown) => {
        options.logger.error({ err }, 'key listing failed');
        const error = { code: 'server_error', message: 'Request failed', temporary: true };
        if (!aborted) send(res, 503, { error });
      },
    );
  });
}
