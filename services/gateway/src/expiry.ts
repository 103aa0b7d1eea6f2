import type { WebSocket } from 'uWebSockets.js';

import { authExpiringFrame, CloseCodes } from '@switchboard/protocol';

import type { Connection } from './connection.ts';

/** setTimeout's largest delay; longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Schedules the credential's end for a connection: `auth_expiring` `noticeMs` before,
 * close 4501 at expiry. A refresh (a new `auth`) calls this again with the new expiry.
 */
export function scheduleExpiry(ws: WebSocket<Connection>, noticeMs: number): void {
  const conn = ws.getUserData();
  clearTimeout(conn.expiryTimer);
  const expiresAt = conn.principal?.expiresAt;
  if (expiresAt === undefined) return;

  const step = (): void => {
    if (conn.closed || conn.principal?.expiresAt !== expiresAt) return;
    const now = Date.now();
    if (now >= expiresAt) {
      const { code, reason } = CloseCodes.credentialsExpired;
      return ws.end(code, reason);
    }
    const noticeAt = expiresAt - noticeMs;
    if (now >= noticeAt) {
      ws.send(authExpiringFrame(expiresAt), false, false);
      conn.expiryTimer = setTimeout(step, expiresAt - now);
      return;
    }
    conn.expiryTimer = setTimeout(step, Math.min(noticeAt - now, MAX_TIMER_MS));
  };
  step();
}
