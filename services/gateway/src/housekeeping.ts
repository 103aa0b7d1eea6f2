import type { WebSocket } from 'uWebSockets.js';

import {
  CloseCodes,
  revocationCovers,
  SERVER_PING_FRAME,
  type RevocationNotice,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import { clockMs, type SocketData } from './connection.ts';

/**
 * The gateway's periodic and event-driven sweeps over its sockets. Each is O(sockets)
 * and runs on a timer or on a rare event, never per message.
 */
type Sockets = Iterable<WebSocket<SocketData>>;

/**
 * Sends every socket the JSON ping and marks it as owing a pong, closes those silent
 * past `timeoutMs` (4000), and sends a protocol ping to those quiet for `intervalMs`:
 * browsers answer those by themselves, so a live page never times out. The JSON ping
 * goes socket by socket rather than to a topic they all join, since each topic
 * membership costs uWebSockets.js memory per socket.
 */
export function reapSilent(sockets: Sockets, intervalMs: number, timeoutMs: number): void {
  const now = clockMs();
  const { code, reason } = CloseCodes.pingTimeout;
  for (const ws of sockets) {
    ws.send(SERVER_PING_FRAME, false, false);
    const conn = ws.getUserData().conn;
    conn.awaitingPong = true;
    if (conn.lastSeen < now - timeoutMs) ws.end(code, reason);
    else if (conn.lastSeen < now - intervalMs) ws.ping();
  }
}

/**
 * Closes sockets whose outbound backlog passed `limit` bytes with 4003: a slow consumer
 * is told it fell behind rather than silently missing events. Returns how many.
 */
export function closeSlowConsumers(sockets: Sockets, limit: number, logger: Logger): number {
  const { code, reason } = CloseCodes.slowConsumer;
  let closed = 0;
  for (const ws of sockets) {
    const backlog = ws.getBufferedAmount();
    if (backlog <= limit) continue;
    closed++;
    const conn = ws.getUserData().conn;
    logger.info(
      { connId: conn.id, tenant: conn.principal?.tenant, backlog },
      'closed slow consumer',
    );
    ws.end(code, reason);
  }
  return closed;
}

/** Closes every socket a revocation covers (4502). */
export function closeRevoked(sockets: Sockets, notice: RevocationNotice, logger: Logger): void {
  const { code, reason } = CloseCodes.credentialsRevoked;
  let closed = 0;
  for (const ws of sockets) {
    const principal = ws.getUserData().conn.principal;
    if (!principal || !revocationCovers(notice, principal)) continue;
    closed++;
    ws.end(code, reason);
  }
  logger.info({ tenant: notice.tenant, kind: notice.kind, closed }, 'revocation applied');
}
