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
export function packTopics(topics: readonly Topic[]): Topic | readonly Topic[] {
  return topics.length === 1 ? topics[0]! : topics;
}

/** Per-socket state, reached through the socket's typed user data. */
export interface Connection {
  readonly id: string;
  readonly clientId?: string;
  /** The `api_key` query parameter, consumed on open. */
  queryApiKey?: string;
  principal?: Principal;
  /** Set while the connection counts against its account's connection limit. */
  lease?: ConnectionLease;
  authFailures: number;
  authTimer?: NodeJS.Timeout;
  /** Warns of, then enforces, the expiry of the credential. */
  expiryTimer?: NodeJS.Timeout;
  /**
   * The subscriptions held, in the order they were made. Replaced, never changed in place,
   * by exactly sized arrays: most connections hold a few, and a `Map` would cost several
   * times as much (see `holdSubscription`).
   */
  subscriptions: readonly HeldSubscription[];
  /** Subscribe and auth messages queued but not yet handled, for batching grants. */
  upcoming?: Ticket[];
  /** Grants of subscriptions the client ended, for subscribing again without a round trip. */
  recentGrants?: Map<string, Grant>;
  /** Counts permission changes that concerned this connection, to spot answers they overtook. */
  permissionChanges: number;
  lastSeen: number;
  /** Set by each server ping; the pong that answers it does not count against the rate. */
  awaitingPong: boolean;
  /** Made on the first message that counts against a limit; unlimited plans need none. */
  rate?: MessageRate;
  closed: boolean;
  /** Messages of one connection are handled one after another, in arrival order. */
  queue: Promise<void>;
  queued: number;
}

/**
 * What uWebSockets.js keeps as the socket's user data. It copies the own properties of
 * the object given to `upgrade` onto the socket object one by one, and past about 15 of
 * them V8 keeps that object's properties in a dictionary (some 800 bytes per socket). A
 * single property pointing at the connection stays small however many fields it has.
 */
export interface SocketData {
  readonly conn: Connection;
}

/** The queue of an idle connection; shared, so idle connections hold no promise of their own. */
export const SETTLED: Promise<void> = Promise.resolve();

const NO_SUBSCRIPTIONS: readonly HeldSubscription[] = Object.freeze([]);

export function newConnection(clientId?: string, queryApiKey?: string): Connection {
  // Every field is present from the start, so all connections share one hidden class
  // and keep their properties in-object (no per-connection property backing store).
  return {
    id: `conn_${randomBytes(9).toString('base64url')}`,
    clientId,
    queryApiKey,
    principal: undefined,
    lease: undefined,
    authFailures: 0,
    authTimer: undefined,
    expiryTimer: undefined,
    subscriptions: NO_SUBSCRIPTIONS,
    upcoming: undefined,
    recentGrants: undefined,
    permissionChanges: 0,
    lastSeen: Date.now(),
    awaitingPong: false,
    rate: undefined,
    closed: false,
    queue: SETTLED,
    queued: 0,
  };
}

export function heldSubscription(conn: Connection, id: string): HeldSubscription | undefined {
  return conn.subscriptions.find((held) => held.id === id);
}

/**
 * Adds a subscription, or replaces the one with its id. `concat` and `with` make arrays
 * of exactly the length needed, where `push` or a spread would leave room for 16 more.
 */
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
