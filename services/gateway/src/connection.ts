import { randomBytes } from 'node:crypto';

import type { ConnectionLease, Grant, Principal } from '@switchboard/protocol';

import type { Ticket } from './grants.ts';
import type { MessageRate } from './message-rate.ts';
import type { Topic } from './topics.ts';

/** A subscription held by one connection. */
export interface HeldSubscription {
  readonly id: string;
  readonly channel: string;
  /** The parameters as the client sent them, to ask the authorizer again. */
  readonly params: Readonly<Record<string, string>>;
  /** Delegate resources whose permission changes re-evaluate this subscription. */
  readonly dependsOn?: readonly string[];
  /**
   * Topics the socket joined, one per granted subject; most grants have one subject, kept
   * without an array of its own (see `topicsOf`).
   */
  readonly topics: Topic | readonly Topic[];
}

function isTopicList(topics: Topic | readonly Topic[]): topics is readonly Topic[] {
  return Array.isArray(topics);
}

export function topicsOf(held: HeldSubscription): readonly Topic[] {
  return isTopicList(held.topics) ? held.topics : [held.topics];
}

/** The form `HeldSubscription.topics` keeps `topics` in. */
function packTopics(topics: readonly Topic[]): Topic | readonly Topic[] {
  return topics.length === 1 ? topics[0]! : topics;
}

export function sameParams(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/**
 * A held subscription of these fields. Most subscriptions have one topic, made for their
 * subscription id, channel and parameters, and no delegate resources: they are held as
 * that topic, which connections with the same subscription share, rather than an object
 * of 64 bytes each. The id, channel and parameters are then the topic's copies, too.
 */
export function holding(
  id: string,
  channel: string,
  params: Readonly<Record<string, string>>,
  topics: readonly Topic[],
  dependsOn: readonly string[] | undefined,
): HeldSubscription {
  const first = topics[0];
  const sameAsFirst =
    first !== undefined &&
    first.subscriptionId === id &&
    first.channel === channel &&
    sameParams(first.params, params);
  if (sameAsFirst && topics.length === 1 && dependsOn === undefined) return first;
  return {
    id: first?.subscriptionId === id ? first.subscriptionId : id,
    channel,
    params: sameAsFirst ? first.params : params,
    topics: packTopics(topics),
    dependsOn,
  };
}

/** Where an inbox's queue starts; shared, so a new inbox holds no promise of its own. */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * The messages of a connection that are waiting or being handled. Made for the first and
 * dropped once the last is handled, so an idle connection holds no inbox, rather than
 * three fields of its own.
 */
export class Inbox {
  /** Messages of one connection are handled one after another, in arrival order. */
  queue: Promise<void> = SETTLED;
  queued = 0;
  /** Subscribe and auth messages queued but not yet handled, for batching grants. */
  upcoming: Ticket[] | undefined = undefined;
}

export const NO_SUBSCRIPTIONS: readonly HeldSubscription[] = Object.freeze([]);

/**
 * Connection ids are this process's random prefix and a counter, so a connection keeps a
 * small integer rather than a string of its own (40 bytes). Six random base64url
 * characters and six base-36 digits make the 12 characters docs/protocol.md promises,
 * for the first 2 billion connections of a process; the prefix keeps them apart from
 * those of other gateways and of this one's earlier lives.
 */
const ID_PREFIX = `conn_${randomBytes(6).toString('base64url').slice(0, 6)}`;
let lastSerial = 0;

/** The `serial` of the newest connection. */
export function lastConnectionSerial(): number {
  return lastSerial;
}

/**
 * Milliseconds since the process started, for `lastSeen`: a small integer, where
 * `Date.now()` is too large for one and costs a 16-byte number per connection (after
 * about 24 days of uptime it costs that again). Monotonic, unlike `Date.now()`.
 */
export function clockMs(): number {
  return Math.floor(performance.now());
}

/**
 * Per-socket state, reached through the socket's typed user data. Every field is set in
 * the constructor, so all connections share one hidden class and keep their fields
 * in-object (no per-connection property backing store).
 */
function isHeldList(
  held: HeldSubscription | readonly HeldSubscription[],
): held is readonly HeldSubscription[] {
  return Array.isArray(held);
}

/** Bits of `Connection.#state`; the auth failures are counted above them. */
const CLOSED = 1;
const AWAITING_PONG = 2;
const AUTH_FAILURE = 4;

export class Connection {
  readonly #serial = ++lastSerial;
  /** `closed`, `awaitingPong` and `authFailures` in one small integer: 16 bytes less each. */
  #state = 0;
  principal: Principal | undefined = undefined;
  /** Set while the connection counts against its account's connection limit. */
  lease: ConnectionLease | undefined = undefined;
  /**
   * The first subscription held and the rest: most connections hold one or two, kept
   * without an array (64 bytes for two), and more in an exactly sized one. A `Map` would
   * cost several times as much. See `subscriptions`.
   */
  #first: HeldSubscription | undefined = undefined;
  #rest: HeldSubscription | readonly HeldSubscription[] | undefined = undefined;
  /** Grants of subscriptions the client ended, for subscribing again without a round trip. */
  recentGrants: Map<string, Grant> | undefined = undefined;
  /** When the last frame or pong came, by `clockMs()`. */
  lastSeen = clockMs();
  /** Made on the first message that counts against a limit; unlimited plans need none. */
  rate: MessageRate | undefined = undefined;
  /** Set while messages are waiting or being handled. */
  inbox: Inbox | undefined = undefined;

  /** This process's count of connections when this one was made: 1, 2, 3, ... */
  get serial(): number {
    return this.#serial;
  }

  /** Made when asked for: ids go into the auth reply, leases and logs only. */
  get id(): string {
    return `${ID_PREFIX}${this.#serial.toString(36).padStart(6, '0')}`;
  }

  /**
   * The subscriptions held, in the order they were made: a new array on each read, so
   * read it once per request, never per event. Replaced as a whole (see `holdSubscription`).
   */
  get subscriptions(): readonly HeldSubscription[] {
    const first = this.#first;
    const rest = this.#rest;
    if (first === undefined) return NO_SUBSCRIPTIONS;
    if (rest === undefined) return [first];
    return isHeldList(rest) ? [first, ...rest] : [first, rest];
  }

  set subscriptions(list: readonly HeldSubscription[]) {
    this.#first = list[0];
    this.#rest = list.length <= 1 ? undefined : list.length === 2 ? list[1] : list.slice(1);
  }

  /** Set once the socket closed; whatever was waiting on a service then sends nothing. */
  get closed(): boolean {
    return (this.#state & CLOSED) !== 0;
  }

  set closed(closed: boolean) {
    this.#state = closed ? this.#state | CLOSED : this.#state & ~CLOSED;
  }

  /** Set by each server ping; the pong that answers it does not count against the rate. */
  get awaitingPong(): boolean {
    return (this.#state & AWAITING_PONG) !== 0;
  }

  set awaitingPong(awaiting: boolean) {
    this.#state = awaiting ? this.#state | AWAITING_PONG : this.#state & ~AWAITING_PONG;
  }

  /** Failed auth attempts on this connection. */
  get authFailures(): number {
    return Math.floor(this.#state / AUTH_FAILURE);
  }

  set authFailures(failures: number) {
    this.#state = (this.#state & (AUTH_FAILURE - 1)) + failures * AUTH_FAILURE;
  }
}

/** The query parameters of an upgrade request that the socket's `open` uses. */
export interface UpgradeQuery {
  readonly apiKey: string | undefined;
  /** A label for the debug log of the opening only (see docs/protocol.md). */
  readonly clientId: string | undefined;
}

/**
 * What uWebSockets.js keeps as the socket's user data. It copies the own properties of
 * the object given to `upgrade` onto the socket object one by one, and past about 15 of
 * them V8 keeps that object's properties in a dictionary (some 800 bytes per socket). A
 * property pointing at the connection stays small however many fields it has.
 *
 * The socket object has no room of its own for properties: V8 gives it a backing store
 * with room for three (40 bytes) on the first. The other two take what would otherwise
 * cost a field of every connection each.
 */
export interface SocketData {
  readonly conn: Connection;
  /** What open needs of the upgrade request's query; consumed there. */
  query: UpgradeQuery | undefined;
  /**
   * The timer that ends the socket when its time is up: the authentication timeout until
   * it authenticates, then the expiry of its credential, if any (see expiry.ts).
   */
  deadline: NodeJS.Timeout | undefined;
}

export function heldSubscription(conn: Connection, id: string): HeldSubscription | undefined {
  return conn.subscriptions.find((held) => held.id === id);
}

/** Adds a subscription, or replaces the one with its id. */
export function holdSubscription(conn: Connection, held: HeldSubscription): void {
  const list = conn.subscriptions;
  const index = list.findIndex((other) => other.id === held.id);
  conn.subscriptions = index < 0 ? list.concat(held) : list.with(index, held);
}

export function dropHeldSubscription(conn: Connection, id: string): void {
  const index = conn.subscriptions.findIndex((held) => held.id === id);
  if (index < 0) return;
  conn.subscriptions =
    conn.subscriptions.length === 1 ? NO_SUBSCRIPTIONS : conn.subscriptions.toSpliced(index, 1);
}
