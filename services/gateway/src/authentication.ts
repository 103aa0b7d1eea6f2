import { isRevoked } from '@switchboard/auth';
import {
  accountOf,
  authErrorFrame,
  authSuccessFrame,
  CloseCodes,
  encodePrincipal,
  errorFrame,
  type AuthMessage,
  type Principal,
} from '@switchboard/protocol';

import { reply, type SessionContext, type Socket } from './context.ts';
import { scheduleExpiry } from './expiry.ts';
import { Interned } from './interned.ts';

function sameIdentity(a: Principal, b: Principal): boolean {
  return a.tenant === b.tenant && a.userId === b.userId && a.appId === b.appId;
}

/** One read-only principal per distinct credential, shared by its connections. */
const principals = new Interned<Principal>(10_000);

export async function authenticate(
  ctx: SessionContext,
  ws: Socket,
  message: AuthMessage,
): Promise<void> {
  const conn = ws.getUserData().conn;
  const requestId = message.request_id;
  if ((message.api_key === undefined) === (message.token === undefined)) {
    const reason = 'auth needs exactly one of api_key or token';
    return reply(
      ws,
      errorFrame({
        code: 'invalid_message_format',
        requestId,
        details: { reason, field: 'api_key' },
      }),
    );
  }

  let result;
  try {
    result = await ctx.auth.verify({ api_key: message.api_key, token: message.token });
  } catch (err) {
    ctx.logger.error({ err, connId: conn.id }, 'auth unavailable');
    return reply(
      ws,
      authErrorFrame('server_error', 'Authentication is temporarily unavailable', requestId, true),
    );
  }
  if (conn.closed) return;

  if (!result.ok && result.temporary) {
    ctx.logger.warn({ connId: conn.id, reason: result.message }, 'auth temporarily unavailable');
    return reply(ws, authErrorFrame('server_error', result.message, requestId, true));
  }
  if (!result.ok) {
    conn.authFailures++;
    ctx.logger.info(
      { connId: conn.id, failures: conn.authFailures, reason: result.message },
      'auth failed',
    );
    reply(ws, authErrorFrame('invalid_credentials', result.message, requestId));
    if (conn.authFailures >= ctx.maxAuthFailures && !conn.principal) {
      const { code, reason } = CloseCodes.tooManyAuthFailures;
      ws.end(code, reason);
    }
    return;
  }

  const principal = result.principal;
  if (conn.principal && !sameIdentity(conn.principal, principal)) {
    return reply(
      ws,
      authErrorFrame(
        'permission_denied',
        'Connection is authenticated as another identity',
        requestId,
      ),
    );
  }
  // Auth allows some clock skew; a connection is never opened on a token already past its exp.
  if (principal.expiresAt !== undefined && principal.expiresAt <= Date.now()) {
    return reply(ws, authErrorFrame('invalid_credentials', 'Token has expired', requestId));
  }
  if (!conn.principal && !(await holdConnectionSlot(ctx, ws, principal, requestId))) return;
  if (conn.closed) return;
  if (isRevoked(ctx.revocations, principal)) {
    if (conn.lease && !conn.principal) ctx.leases.release(conn.lease);
    if (!conn.principal) conn.lease = undefined;
    return reply(
      ws,
      authErrorFrame('invalid_credentials', 'Credential has been revoked', requestId),
    );
  }
  conn.principal = principals.get(encodePrincipal(principal), principal);
  // The authentication timeout ends; the credential's expiry, if any, takes its place below.
  const data = ws.getUserData();
  clearTimeout(data.deadline);
  data.deadline = undefined;
  ctx.logger.debug(
    {
      connId: conn.id,
      tenant: principal.tenant,
      userId: principal.userId,
      method: principal.method,
    },
    'authenticated',
  );
  reply(
    ws,
    authSuccessFrame({
      connectionId: conn.id,
      tenant: principal.tenant,
      userId: principal.userId,
      appId: principal.appId,
      plan: principal.plan,
      expiresAt: principal.expiresAt,
      requestId,
    }),
  );
  scheduleExpiry(ws, ctx.expiryNoticeMs);
}

/**
 * Counts the connection against its account's limit, across gateways. False when it
 * may not proceed: over the limit (the socket is closed) or the count is unavailable.
 */
async function holdConnectionSlot(
  ctx: SessionContext,
  ws: Socket,
  principal: Principal,
  requestId: string | undefined,
): Promise<boolean> {
  const limit = principal.limits.maxConnections;
  if (limit === null) return true;

  const conn = ws.getUserData().conn;
  const lease = {
    account: accountOf(principal),
    connectionId: conn.id,
    gateway: ctx.leases.instance,
  };
  let answer;
  try {
    answer = await ctx.leases.acquire(lease, limit);
  } catch (err) {
    ctx.logger.error(
      { err, connId: conn.id, tenant: principal.tenant },
      'limits endpoint unavailable',
    );
    answer = undefined;
  }
  if (conn.closed) {
    if (answer?.ok) ctx.leases.release(lease);
    return false;
  }
  if (!answer) {
    reply(
      ws,
      authErrorFrame(
        'server_error',
        'Connection limits are temporarily unavailable',
        requestId,
        true,
      ),
    );
    return false;
  }
  if (!answer.ok) {
    reply(ws, authErrorFrame('connection_limit_exceeded', answer.message, requestId));
    const { code, reason } = CloseCodes.connectionLimitExceeded;
    ws.end(code, reason);
    return false;
  }
  conn.lease = lease;
  return true;
}
