/**
 * The one table of error codes and close codes a client can see.
 * docs/protocol.md lists the same rows; test/conformance/docs-in-step.test.ts keeps the two in step.
 */

/**
 * Error codes carried by `error` and `auth_error` frames and by publish API replies
 * (`invalid_channel` and `payload_too_large` are publish-only).
 */
export const ErrorCodes = {
  authentication_required: 'The connection is not authenticated',
  invalid_credentials: 'The provided authentication credentials are invalid',
  permission_denied: "The authenticated principal doesn't have permission for the requested action",
  invalid_message_format: 'The message format is invalid or missing required fields',
  invalid_subscription: 'The subscription request is invalid',
  subscription_limit_exceeded: 'The maximum number of active subscriptions has been reached',
  rate_limit_exceeded: 'The client has exceeded the rate limit for WebSocket messages',
  resource_not_found: 'The requested resource does not exist',
  server_error: 'An unexpected error occurred on the server',
  connection_limit_exceeded: "The account's plan allows no more connections",
  invalid_channel: 'The published event names an unknown channel or misses its parameters',
  payload_too_large: 'The request body is larger than the configured maximum',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** A WebSocket close code the gateway uses, and whether a client should reconnect after it. */
export interface CloseCode {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: boolean;
}

/**
 * Close codes. 4000–4499: the client may reconnect (with backoff).
 * 4500–4999: reconnecting with the same credentials or input will fail the same way.
 */
export const CloseCodes = {
  messageTooBig: { code: 1009, reason: 'message too big', reconnect: false },
  serviceRestart: { code: 1012, reason: 'service restart', reconnect: true },
  pingTimeout: { code: 4000, reason: 'ping timeout', reconnect: true },
  authenticationTimeout: { code: 4001, reason: 'authentication timeout', reconnect: true },
  rateLimited: { code: 4002, reason: 'message rate limit exceeded', reconnect: true },
  slowConsumer: { code: 4003, reason: 'slow consumer', reconnect: true },
  connectionLimitExceeded: { code: 4004, reason: 'connection limit exceeded', reconnect: true },
  tooManyAuthFailures: { code: 4500, reason: 'too many authentication failures', reconnect: false },
  credentialsExpired: { code: 4501, reason: 'credentials expired', reconnect: false },
  credentialsRevoked: { code: 4502, reason: 'credentials revoked', reconnect: false },
} as const satisfies Record<string, CloseCode>;

export type CloseCodeName = keyof typeof CloseCodes;
