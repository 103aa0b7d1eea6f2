import type { WebSocket } from 'uWebSockets.js';

import {
  CloseCodes,
  revocationCovers,
  SERVER_PING_FRAME,
  type RevocationNotice,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import type { SocketData } from './connection.ts';

/**
 * The gateway's periodic and event-driven sweeps over its sockets. Each is O(sockets)
 * and runs on a timer or on a rare event, never per message.
 */
type Sockets = Iterable<WebSocket<SocketData>>;

/**
 * Sends a socket the JSON ping and marks it as owing a pong. Closes it with 4000 if it was
 * pinged before and has been silent for `timeoutMs`; otherwise, if it has been quiet for
 * `intervalMs`, also sends a protocol ping, which browsers answer by themselves, so a live
 * page never times out. The JSON ping goes socket by socket rather than to a topic they
 * all join, since each topic membership costs uWebSockets.js memory per socket.
 */
export function checkLiveness(
  ws: WebSocket<SocketData>,
  now: number,
  intervalMs: number,
  timeoutMs: number,
): void {
  const conn = ws.getUserData().conn;
  // Only a connection pinged before is closed: a new one gets its first ping before any verdict.
  const pingedBefore = conn.awaitingPong;
  ws.send(SERVER_PING_FRAME, false, false);
  conn.awaitingPong = true;
  if (pingedBefore && conn.lastSeen < now - timeoutMs) {
    const { code, reason } = CloseCodes.pingTimeout;
    ws.end(code, reason);
  } else if (conn.lastSeen < now - intervalMs) ws.ping();
}

/**
 * Visits every member of a set once per round, a slice per `tick()`, so that a sweep over
 * many sockets never holds the event loop for long: each `send` outside a uWebSockets.js
 * callback is a system call of its own, and one sweep of 10,000 sockets took 76–85 ms on
 * the benchmark machine, a stall for every event in flight (see docs/performance.md).
 *
 * A round covers the members present when it starts, spread evenly over its ticks in the
 * order they joined (a Set iterates in that order): the k-th of n is visited about k/n of
 * the way through the round, so a member that joined just before the round began is
 * visited near its end, and every member within two rounds of joining. `joinOrder` numbers
 * members in that order; a round stops at the first member numbered after its start.
 */
export class PacedSweep<T> {
  #round: Iterator<T> | undefined;
  #lastMember = 0;
  #size = 0;
  #visited = 0;
  #ticksDone = 0;

  constructor(
    private readonly members: Set<T>,
    private readonly ticksPerRound: number,
    private readonly joinOrder: (member: T) => number,
    private readonly visit: (member: T) => void,
  ) {}

  /** `lastJoined`: the `joinOrder` of the newest member, or any larger number. */
  tick(lastJoined: number): void {
    if (this.#ticksDone === this.ticksPerRound) this.#ticksDone = 0;
    if (this.#ticksDone === 0) {
      this.#round = this.members.values();
      this.#lastMember = lastJoined;
      this.#size = this.members.size;
      this.#visited = 0;
    }
    this.#ticksDone++;
    const due = Math.floor((this.#size * this.#ticksDone) / this.ticksPerRound);
    while (this.#visited < due && this.#visitNext()) this.#visited++;
  }

  #visitNext(): boolean {
    const next = this.#round?.next();
    if (!next || next.done || this.joinOrder(next.value) > this.#lastMember) {
      this.#round = undefined;
      return false;
    }
    this.visit(next.value);
    return true;
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
