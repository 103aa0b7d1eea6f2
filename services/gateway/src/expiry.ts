import type { WebSocket } from 'uWebSockets.js';

import { authExpiringFrame, CloseCodes } from '@switchboard/protocol';

import type { Connection, SocketData } from './connection.ts';

type Socket = WebSocket<SocketData>;

/** setTimeout's largest delay; longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Schedules the credential's end for a connection: `auth_expiring` `noticeMs` before,
 * close 4501 at expiry. A refresh (a new `auth`) calls this again with the new expiry.
 */
export function scheduleExpiry(ws: Socket, noticeMs: number): void {
  const data = ws.getUserData();
  const { conn } = data;
  clearTimeout(data.deadline);
  data.deadline = undefined;
  const expiresAt = conn.principal?.expiresAt;
  if (expiresAt === undefined) return;
  expiryStep(ws, conn, noticeMs, expiresAt);
}

/**
 * One module-level function with the timer's arguments rather than a closure per
 * connection: under tsx a named closure also carries a dictionary of properties.
 */
function expiryStep(ws: Socket, conn: Connection, noticeMs: number, expiresAt: number): void {
  if (conn.closed || conn.principal?.expiresAt !== expiresAt) return;
  const now = Date.now();
  if (now >= expiresAt) {
    const { code, reason } = CloseCodes.credentialsExpired;
    return ws.end(code, reason);
  }
  const noticeAt = expiresAt - noticeMs;
  if (now >= noticeAt) ws.send(authExpiringFrame(expiresAt), false, false);
  const delay = now >= noticeAt ? expiresAt - now : Math.min(noticeAt - now, MAX_TIMER_MS);
  // The socket is open (`closed` is checked above), so its user data can be reached.
  ws.getUserData().deadline = setTimeout(expiryStep, delay, ws, conn, noticeMs, expiresAt);
}
