import type { WebSocket } from 'uWebSockets.js';

import type { CredentialVerifier, RevocationStore } from '@switchboard/auth';
import type { AuthorizerClient } from '@switchboard/channel-authorizer';
import { errorFrame } from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { SocketData } from './connection.ts';
import type { LeaseKeeper } from './leases.ts';
import type { TopicRegistry } from './topics.ts';

/** What message handling needs from the gateway around it. */
export interface SessionContext {
  readonly auth: CredentialVerifier;
  readonly authorizer: AuthorizerClient;
  readonly topics: TopicRegistry;
  /** This instance's connection slots in the cluster-wide ledger. */
  readonly leases: LeaseKeeper;
  readonly logger: Logger;
  readonly maxAuthFailures: number;
  /** Checked once a principal is known, so a revocation during the auth round trip still applies. */
  readonly revocations: RevocationStore;
  readonly expiryNoticeMs: number;
  /** How long to wait for the bus to confirm a new subscription. */
  readonly upstreamTimeoutMs: number;
  /**
   * Counts the permission changes (and reconnects) this gateway has applied, to spot
   * authorizer answers they may have overtaken. One count for all connections rather than
   * a field of each: an answer overtaken by a change that concerned another connection is
   * only asked for again, which the change's own connections do anyway.
   */
  readonly permissionChanges: { count: number };
}

export type Socket = WebSocket<SocketData>;

/** Sends unless the socket closed while we were waiting on a service. */
export function reply(ws: Socket, frame: string): void {
  if (!ws.getUserData().conn.closed) ws.send(frame, false, false);
}

/** Settles like `promise`, or rejects once `ms` have passed. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A temporary `server_error`: a service we depend on did not answer; the client may retry. */
export function replyUnavailable(
  ws: Socket,
  requestId: string | undefined,
  reason: string,
  channel: string,
): void {
  reply(
    ws,
    errorFrame({ code: 'server_error', requestId, details: { reason, channel }, temporary: true }),
  );
}
