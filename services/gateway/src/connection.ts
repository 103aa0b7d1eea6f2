import { randomBytes } from 'node:crypto';

import type { ConnectionLease, Grant, Principal } from '@switchboard/protocol';

import type { Ticket } from './grants.ts';

import { MessageRate } from './message-rate.ts';

/** A subscription held by one connection. */
export interface HeldSubscription {
  readonly channel: string;
  /** The parameters as the client sent them, to ask the authorizer again. */
  readonly params: Readonly<Record<string, string>>;
  /** Delegate resources whose permission changes re-evaluate this subscription. */
  readonly dependsOn?: readonly string[];
  /** uWebSockets.js topics the socket joined, one per granted subject. */
  readonly topics: readonly string[];
}

/** Per-socket state, reached through the socket's typed user data. */
export interface Connection {
  readonly id: string;
  readonly clientId?: string;
  readonly remoteAddress: string;
  /** The `api_key` query parameter, consumed on open. */
  queryApiKey?: string;
  principal?: Principal;
  /** Set while the connection counts against its account's connection limit. */
  lease?: ConnectionLease;
  authFailures: number;
  authTimer?: NodeJS.Timeout;
  /** Warns of, then enforces, the expiry of the credential. */
  expiryTimer?: NodeJS.Timeout;
  readonly subscriptions: Map<string, HeldSubscription>;
  /** Subscribe and auth messages queued but not yet handled, for batching grants. */
  upcoming?: Ticket[];
  /** Grants of subscriptions the client ended, for subscribing again without a round trip. */
  recentGrants?: Map<string, Grant>;
  /** Counts permission changes that concerned this connection, to spot answers they overtook. */
  permissionChanges: number;
  lastSeen: number;
  /** Set by each server ping; the pong that answers it does not count against the rate. */
  awaitingPong: boolean;
  readonly rate: MessageRate;
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

export function newConnection(
  remoteAddress: string,
  clientId?: string,
  queryApiKey?: string,
): Connection {
  // Every field is present from the start, so all connections share one hidden class
  // and keep their properties in-object (no per-connection property backing store).
  return {
    id: `conn_${randomBytes(9).toString('base64url')}`,
    clientId,
    remoteAddress,
    queryApiKey,
    principal: undefined,
    lease: undefined,
    authFailures: 0,
    authTimer: undefined,
    expiryTimer: undefined,
    subscriptions: new Map(),
    upcoming: undefined,
    recentGrants: undefined,
    permissionChanges: 0,
    lastSeen: Date.now(),
    awaitingPong: false,
    rate: new MessageRate(),
    closed: false,
    queue: SETTLED,
    queued: 0,
  };
}
