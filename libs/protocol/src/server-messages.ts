import { hash } from 'node:crypto';

import { ErrorCodes, type ErrorCode } from './codes.ts';
import type { ChannelParams } from './channels.ts';

/** Details of an `error` frame; `reason` says what exactly was wrong. */
export interface ErrorDetails {
  readonly reason?: string;
  readonly channel?: string;
  readonly field?: string;
  readonly [key: string]: unknown;
}

export interface ErrorFrameInput {
  readonly code: ErrorCode;
  readonly message?: string;
  readonly requestId?: string;
  readonly details?: ErrorDetails;
  /** Set when retrying the same request later may succeed (e.g. a dependency was down). */
  readonly temporary?: boolean;
}

/** Current time as the protocol writes it: ISO 8601, UTC, milliseconds. */
export function timestamp(now: number = Date.now()): string {
  return new Date(now).toISOString();
}

export function errorFrame(input: ErrorFrameInput): string {
  return JSON.stringify({
    type: 'error',
    code: input.code,
    message: input.message ?? ErrorCodes[input.code],
    request_id: input.requestId,
    details: input.details,
    temporary: input.temporary || undefined,
  });
}

export interface AuthSuccessInput {
  readonly connectionId: string;
  readonly tenant: string;
  readonly userId?: string;
  readonly appId?: string;
  readonly plan: string;
  readonly expiresAt?: number;
  readonly requestId?: string;
}

export function authSuccessFrame(input: AuthSuccessInput): string {
  return JSON.stringify({
    type: 'auth_success',
    connection_id: input.connectionId,
    tenant: input.tenant,
    user_id: input.userId ?? null,
    app_id: input.appId,
    plan: input.plan,
    expires_at: input.expiresAt === undefined ? undefined : timestamp(input.expiresAt),
    request_id: input.requestId,
  });
}

export function authErrorFrame(
  code: ErrorCode,
  message: string,
  requestId?: string,
  temporary?: boolean,
): string {
  return JSON.stringify({
    type: 'auth_error',
    code,
    message,
    request_id: requestId,
    temporary: temporary || undefined,
  });
}

export function subscriptionSuccessFrame(
  channel: string,
  params: ChannelParams,
  subscriptionId: string,
  requestId?: string,
): string {
  return JSON.stringify({
    type: 'subscription_success',
    channel,
    ...params,
    subscription_id: subscriptionId,
    request_id: requestId,
  });
}

export function unsubscriptionSuccessFrame(subscriptionId: string, requestId?: string): string {
  return JSON.stringify({
    type: 'unsubscription_success',
    subscription_id: subscriptionId,
    request_id: requestId,
  });
}

export function pongFrame(requestId?: string): string {
  return JSON.stringify({ type: 'pong', timestamp: timestamp(), request_id: requestId });
}

/** Sent before a connection's credential expires, so the client can send a fresh token. */
export function authExpiringFrame(expiresAt: number): string {
  return JSON.stringify({ type: 'auth_expiring', expires_at: timestamp(expiresAt) });
}

/** Sent once per window when a connection has used 80 % of its message rate. */
export function rateLimitWarningFrame(limit: number, remaining: number, resetAt: number): string {
  return JSON.stringify({
    type: 'rate_limit_warning',
    limit,
    remaining,
    reset_at: timestamp(resetAt),
  });
}

/** The server's own keep-alive ping; the same bytes for every connection. */
export const SERVER_PING_FRAME = '{"type":"ping"}';

/**
 * The subscription id is a function of the channel and its parameters only, so one
 * event frame serves every subscriber of the same subscription on a gateway, and a
 * reconnecting client gets back the id it had.
 */
export function subscriptionId(channel: string, params: ChannelParams): string {
  const canonical = [
    channel,
    ...Object.keys(params)
      .sort()
      .map((k) => `${k}=${params[k]}`),
  ];
  const digest = hash('sha256', canonical.join('\n'), 'base64url');
  return `sub_${digest.slice(0, 22)}`;
}

export interface SubscriptionErrorInput {
  readonly subscriptionId: string;
  readonly channel: string;
  readonly params: ChannelParams;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly temporary?: boolean;
}

/**
 * Ends an active subscription the server no longer allows (a permission change, a
 * refreshed credential). No event of the subscription follows it.
 */
export function subscriptionErrorFrame(input: SubscriptionErrorInput): string {
  return JSON.stringify({
    type: 'subscription_error',
    subscription_id: input.subscriptionId,
    channel: input.channel,
    ...input.params,
    code: input.code,
    message: 'The subscription has ended',
    details: { reason: input.reason, channel: input.channel },
    temporary: input.temporary || undefined,
  });
}
