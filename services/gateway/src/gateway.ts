import { randomBytes } from 'node:crypto';

import uWS, {
  type HttpRequest,
  type HttpResponse,
  type us_socket_context_t,
  type TemplatedApp,
  type us_listen_socket,
  type WebSocket,
  type WebSocketBehavior,
} from 'uWebSockets.js';

import { AuthClient, CachingAuthClient, type RevocationStore } from '@switchboard/auth';
import type { Bus } from '@switchboard/bus';
import {
  AuthorizerClient,
  followPermissionChanges,
  LimitsClient,
} from '@switchboard/channel-authorizer';
import {
  changeConcerns,
  CloseCodes,
  errorFrame,
  type PermissionChange,
  type Principal,
  parseClientMessage,
  type ParseResult,
  rateLimitWarningFrame,
  timestamp,
  UNAUTHENTICATED_LIMITS,
} from '@switchboard/protocol';
import {
  afterNextMajorCollection,
  ChurnTrimmer,
  listen,
  loadHeapTrim,
  sendText,
  stopListening,
} from '@switchboard/runtime';
import { redactUrl, type Logger } from '@switchboard/telemetry';

import { AddressRate } from './address-rate.ts';
import { checkLiveness, closeRevoked, closeSlowConsumers, PacedSweep } from './housekeeping.ts';
import { LeaseKeeper } from './leases.ts';
import { MessageRate, type RateVerdict } from './message-rate.ts';
import { OriginPolicy } from './origins.ts';
import type { SocketSettings } from './config.ts';
import { clockMs, Connection, Inbox, lastConnectionSerial, type SocketData } from './connection.ts';
import { authenticate } from './authentication.ts';
import { reply, type SessionContext } from './context.ts';
import { forgetGrants, issueTicket } from './grants.ts';
import { handleParsed, reevaluate, releaseConnection } from './session.ts';
import { TopicRegistry } from './topics.ts';

type Socket = WebSocket<SocketData>;

export interface GatewayOptions {
  /** Name in logs and in the connection ledger (default `gateway`). */
  readonly gatewayId?: string;
  /** Revocations this gateway follows: KV in distributed mode, auth's own store in standalone. */
  readonly revocations: RevocationStore;
}

/** The connection's messages-per-minute limit; before auth, that of the smallest plan. */
function messageLimit(conn: Connection): number | null {
  return (conn.principal?.limits ?? UNAUTHENTICATED_LIMITS).messagesPerMinute;
}

const UNLIMITED: RateVerdict = { kind: 'ok' };

/** Values of the `v` query parameter this gateway speaks; absent means the latest. */
const SUPPORTED_VERSIONS = new Set(['1', 'v1']);
/** Frames in a connection's queue beyond which new ones are refused. */
const MAX_QUEUED = 64;

/**
 * The liveness sweep (server pings, silent sockets closed) visits every socket once per
 * PING_INTERVAL_MS, in slices this far apart.
 */
const LIVENESS_TICK_MS = 100;

/** How often sockets are checked for outbound backlog (slow consumers). */
const BACKLOG_CHECK_MS = 250;
/**
 * While no event has been published, only replies and pings can add to a backlog, a few
 * hundred bytes per client request or ping interval: every this many periods is enough
 * then. A check reads every socket's buffered amount, which at 19,000 idle sockets four
 * times a second cost about 1 % of a core.
 */
const QUIET_BACKLOG_CHECK_EVERY = 20;
/** Room above MAX_BACKPRESSURE_BYTES for what arrives between two backlog checks. */
const BACKLOG_HEADROOM_BYTES = 16 * 1024 * 1024;
/** How often connection churn is looked at for a trim of the C heap (see ChurnTrimmer). */
const TRIM_TICK_MS = 1_000;

/**
 * uWebSockets.js drops a frame over `maxPayloadLength` with an abrupt 1006, so it gets a
 * larger bound and frames between the two are refused with a clean 1009. Only frames
 * beyond this bound (16 × MAX_MESSAGE_BYTES, at least 1 MiB) see the abrupt close.
 */
function frameHardLimit(maxMessageBytes: number): number {
  return Math.max(maxMessageBytes * 16, 1024 * 1024);
}

/** The WebSocket side of Switchboard: sockets, sessions, liveness and fan-out. */
export class Gateway {
  readonly app: TemplatedApp;
  readonly #connections = new Set<Socket>();
  readonly #topics: TopicRegistry;
  readonly #session: SessionContext;
  readonly #addressRate: AddressRate;
  readonly #origins: OriginPolicy;
  #listenSocket?: us_listen_socket;
  #livenessTimer?: NodeJS.Timeout;
  #backlogTimer?: NodeJS.Timeout;
  #heartbeatTimer?: NodeJS.Timeout;
  #trimTimer?: NodeJS.Timeout;
  readonly #trimmer: ChurnTrimmer | undefined;
  #slowConsumers = 0;
  #stopping = false;

  constructor(
    private readonly bus: Bus,
    private readonly settings: SocketSettings,
    private readonly logger: Logger,
    options: GatewayOptions,
  ) {
    const { gatewayId = 'gateway', revocations } = options;
    // A restarted gateway is a new instance, so connections of its past life expire with their lease.
    const instance = `${gatewayId}-${randomBytes(6).toString('base64url')}`;
    this.app = uWS.App();
    this.#addressRate = new AddressRate(settings.CONNECT_RATE_PER_ADDRESS);
    this.#origins = new OriginPolicy(settings.ALLOWED_ORIGINS);
    if (this.#origins.refusesBrowsers)
      logger.warn('ALLOWED_ORIGINS is empty: browser connections are refused');
    this.#topics = new TopicRegistry(this.app, bus, {
      onMalformed: (subject) =>
        logger.warn({ subject }, 'dropped a bus message that is not an event'),
      // Well inside the headroom above MAX_BACKPRESSURE_BYTES that uWebSockets.js allows.
      publishBudget: BACKLOG_HEADROOM_BYTES / 2,
      onPublished: () => this.#checkBacklogs(),
      onDropped: (ws) => {
        const limit = this.settings.MAX_BACKPRESSURE_BYTES;
        this.#slowConsumers += closeSlowConsumers([ws], limit, this.logger);
      },
    });
    const auth = new AuthClient(bus, settings.UPSTREAM_TIMEOUT_MS);
    const keys = new CachingAuthClient(auth, revocations, { ttlMs: settings.AUTH_CACHE_MS });
    keys.followAuthStops(bus);
    this.#session = {
      auth: keys,
      authorizer: new AuthorizerClient(bus, settings.UPSTREAM_TIMEOUT_MS),
      topics: this.#topics,
      leases: new LeaseKeeper(
        new LimitsClient(bus, settings.UPSTREAM_TIMEOUT_MS),
        instance,
        logger,
      ),
      logger,
      maxAuthFailures: settings.MAX_AUTH_FAILURES,
      revocations,
      expiryNoticeMs: settings.EXPIRY_NOTICE_MS,
      upstreamTimeoutMs: settings.UPSTREAM_TIMEOUT_MS,
      permissionChanges: { count: 0 },
    };
    revocations.onRevoked((notice) => closeRevoked(this.#connections, notice, logger));
    followPermissionChanges(bus, logger, (tenant, change) =>
      this.#onPermissionChange(tenant, change),
    );
    this.recheckAfterReconnects(bus);
    this.#trimmer = this.#makeTrimmer();
    const behavior = this.#behavior();
    this.app.ws('/v1', behavior).ws('/v1/', behavior);
    const upgradeRequired = (res: uWS.HttpResponse): void =>
      sendText(res, '426 Upgrade Required', 'this endpoint speaks WebSocket\n');
    this.app.get('/v1', upgradeRequired).get('/v1/', upgradeRequired);
  }

  get ready(): boolean {
    return this.#listenSocket !== undefined && !this.#stopping;
  }

  stats(): {
    connections: number;
    slowConsumers: number;
    subjects: number;
    topics: number;
    malformed: number;
  } {
    return {
      connections: this.#connections.size,
      slowConsumers: this.#slowConsumers,
      ...this.#topics.stats(),
    };
  }

  async listen(): Promise<number> {
    const { socket, port } = await listen(this.app, this.settings.HOST, this.settings.PORT);
    this.#listenSocket = socket;
    const { PING_INTERVAL_MS, PING_TIMEOUT_MS } = this.settings;
    const ticks = Math.max(1, Math.floor(PING_INTERVAL_MS / LIVENESS_TICK_MS));
    const liveness = new PacedSweep(
      this.#connections,
      ticks,
      (ws) => ws.getUserData().conn.serial,
      (ws) => checkLiveness(ws, clockMs(), PING_INTERVAL_MS, PING_TIMEOUT_MS),
    );
    const tick = (): void => liveness.tick(lastConnectionSerial());
    this.#livenessTimer = setInterval(tick, PING_INTERVAL_MS / ticks);
    let quietPeriods = 0;
    this.#backlogTimer = setInterval(() => {
      if (this.#topics.published === 0 && ++quietPeriods < QUIET_BACKLOG_CHECK_EVERY) return;
      quietPeriods = 0;
      this.#checkBacklogs();
    }, BACKLOG_CHECK_MS);
    this.#heartbeatTimer = setInterval(
      () => void this.#heartbeat(),
      this.settings.HEARTBEAT_INTERVAL_MS,
    );
    await this.#heartbeat();
    if (this.#trimmer) {
      const trimmer = this.#trimmer;
      // Start-up (compiling, connecting to the bus) leaves free memory behind, too.
      trimmer.trimNow();
      this.#trimTimer = setInterval(() => trimmer.tick(), TRIM_TICK_MS);
    }
    return port;
  }

  /**
   * Closed sockets leave their memory free between chunks of the C heap still in use
   * (uWebSockets.js allocates a socket's memory there), and glibc keeps it until asked to
   * trim. In the benchmark, 5 s after 19,000 idle sockets closed, the gateway's RSS was
   * 118–137 MB with trims and 152 MB without; start-up leaves a few MB behind as well.
   * The buffers of a wave of connections hold C memory until V8 collects them, so a trim
   * also follows the next major collection after a churn trim (see ChurnTrimmer).
   */
  #makeTrimmer(): ChurnTrimmer | undefined {
    const threshold = this.settings.MEMORY_TRIM_CONNECTIONS;
    if (threshold === 0) return undefined;
    const trim = loadHeapTrim();
    if (typeof trim !== 'function') {
      this.logger.info({ reason: trim.reason }, 'memory trim after connection churn is off');
      return undefined;
    }
    return new ChurnTrimmer(trim, threshold, {
      afterNextMajorCollection,
      onTrim: ({ released, ms, churn, cause }) =>
        this.logger.debug(
          { released, ms: Math.round(ms * 10) / 10, churn, cause },
          'trimmed the C heap',
        ),
    });
  }

  /** Stops accepting, closes every socket with 1012 (clients reconnect elsewhere). */
  stop(): void {
    this.#stopping = true;
    clearInterval(this.#livenessTimer);
    clearInterval(this.#backlogTimer);
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#trimTimer);
    this.#trimmer?.close();
    if (this.#listenSocket) stopListening(this.#listenSocket);
    this.logger.info(this.stats(), 'closing connections');
    const { code, reason } = CloseCodes.serviceRestart;
    for (const ws of [...this.#connections]) ws.end(code, reason);
  }

  #behavior(): WebSocketBehavior<SocketData> {
    const { settings, logger } = this;
    return {
      compression: uWS.DISABLED,
      maxPayloadLength: frameHardLimit(settings.MAX_MESSAGE_BYTES),
      // Our backlog check closes slow consumers with 4003 once past MAX_BACKPRESSURE_BYTES; uWS's
      // own limit (abrupt close, never a silent skip) is only the last resort, far above it.
      maxBackpressure: settings.MAX_BACKPRESSURE_BYTES + BACKLOG_HEADROOM_BYTES,
      closeOnBackpressureLimit: 1,
      idleTimeout: 0,
      sendPingsAutomatically: false,

      upgrade: (res, req, context) => this.#upgrade(res, req, context),

      open: (ws) => {
        const data = ws.getUserData();
        const { conn } = data;
        this.#connections.add(ws);
        this.#trimmer?.note();
        const { code, reason } = CloseCodes.authenticationTimeout;
        data.deadline = setTimeout(() => {
          if (!conn.principal && !conn.closed) ws.end(code, reason);
        }, settings.AUTH_TIMEOUT_MS);
        // The address is read back from the socket rather than kept on every connection.
        if (logger.isLevelEnabled('debug')) {
          const remote = Buffer.from(ws.getRemoteAddressAsText()).toString();
          const clientId = data.query?.clientId;
          logger.debug({ connId: conn.id, clientId, remote }, 'connection opened');
        }

        const apiKey = data.query?.apiKey;
        data.query = undefined;
        if (apiKey)
          this.#enqueue(ws, undefined, () =>
            authenticate(this.#session, ws, { type: 'auth', api_key: apiKey }),
          );
      },

      message: (ws, message, isBinary) => this.#onMessage(ws, message, isBinary),

      pong: (ws) => {
        ws.getUserData().conn.lastSeen = clockMs();
      },

      close: (ws, code) => {
        const data = ws.getUserData();
        const { conn } = data;
        conn.closed = true;
        this.#connections.delete(ws);
        this.#trimmer?.note();
        clearTimeout(data.deadline);
        data.deadline = undefined;
        releaseConnection(this.#session, conn);
        logger.debug(
          { connId: conn.id, tenant: conn.principal?.tenant, code },
          'connection closed',
        );
      },
    };
  }

  /** Checks the request (version, address rate), then upgrades; nothing here awaits. */
  #upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    if (this.#stopping) return sendText(res, '503 Service Unavailable', 'shutting down\n');
    const version = req.getQuery('v');
    if (version && !SUPPORTED_VERSIONS.has(version)) {
      const body = `unsupported API version ${JSON.stringify(version)}; use v=1\n`;
      return sendText(res, '400 Bad Request', body);
    }

    const origin = req.getHeader('origin');
    if (!this.#origins.allows(origin)) {
      this.logger.info({ origin }, 'origin refused');
      return sendText(res, '403 Forbidden', 'origin not allowed\n');
    }

    // Reading the address costs a copy out of uWebSockets.js; only the limit and the debug log need it.
    const debug = this.logger.isLevelEnabled('debug');
    const address =
      this.#addressRate.enabled || debug
        ? Buffer.from(res.getRemoteAddressAsText()).toString()
        : '';
    if (this.#addressRate.enabled && !this.#addressRate.allow(address)) {
      this.logger.info({ remote: address }, 'connection rate limited');
      res.cork(() => {
        res
          .writeStatus('429 Too Many Requests')
          .writeHeader('retry-after', '1')
          .end('too many connections\n');
      });
      return;
    }
    if (debug) {
      this.logger.debug(
        { url: redactUrl(`${req.getUrl()}?${req.getQuery()}`), remote: address },
        'upgrade',
      );
    }

    const data: SocketData = {
      conn: new Connection(),
      query: {
        apiKey: req.getQuery('api_key') || undefined,
        clientId: req.getQuery('client_id') || undefined,
      },
      deadline: undefined,
    };
    res.upgrade<SocketData>(
      data,
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  }

  /** Keeps this instance's connections counted; a missed beat is retried on the next. */
  async #heartbeat(): Promise<void> {
    try {
      await this.#session.leases.heartbeat();
    } catch (err) {
      this.logger.warn({ err }, 'gateway heartbeat failed');
    }
  }

  /**
   * One inbound frame: size, then rate, then the per-connection queue, so every reply
   * (errors included) leaves in the order the frames came in.
   */
  #onMessage(ws: Socket, message: ArrayBuffer, isBinary: boolean): void {
    const conn = ws.getUserData().conn;
    conn.lastSeen = clockMs();
    if (message.byteLength > this.settings.MAX_MESSAGE_BYTES) {
      const { code, reason } = CloseCodes.messageTooBig;
      return ws.end(code, reason);
    }

    // The ArrayBuffer is only valid during this callback: decode (copy) it now.
    const parsed: ParseResult = isBinary
      ? { ok: false, reason: 'Binary frames are not supported; send JSON text' }
      : parseClientMessage(Buffer.from(message).toString('utf8'));
    // The answer to our own ping is free; everything else counts against the rate.
    if (parsed.ok && parsed.message.type === 'pong' && conn.awaitingPong) {
      conn.awaitingPong = false;
      return;
    }

    const requestId = parsed.ok ? parsed.message.request_id : parsed.requestId;
    const limit = messageLimit(conn);
    const verdict = limit === null ? UNLIMITED : (conn.rate ??= new MessageRate()).check(limit);
    if (verdict.kind === 'close') {
      this.logger.info(
        { connId: conn.id, tenant: conn.principal?.tenant },
        'closed for exceeding the message rate',
      );
      const { code, reason } = CloseCodes.rateLimited;
      return ws.end(code, reason);
    }
    if (verdict.kind === 'refuse') {
      const details = {
        reason: `At most ${limit} messages per minute`,
        limit,
        reset_at: timestamp(verdict.resetAt),
      };
      const refusal = errorFrame({ code: 'rate_limit_exceeded', requestId, details });
      return this.#enqueue(ws, requestId, () => reply(ws, refusal));
    }
    if (verdict.kind === 'warn') {
      const warning = rateLimitWarningFrame(limit ?? 0, verdict.remaining, verdict.resetAt);
      this.#enqueue(ws, undefined, () => reply(ws, warning));
    }
    if ((conn.inbox?.queued ?? 0) >= MAX_QUEUED) return this.#refuseBusy(ws, requestId);
    const ticket = parsed.ok ? issueTicket(conn, parsed.message) : undefined;
    this.#enqueue(ws, requestId, () => handleParsed(this.#session, ws, parsed, ticket));
  }

  /**
   * A permission change of a tenant: the authorizer has dropped its cached answers; here
   * every connection it concerns forgets its own and asks again, in its queue, about the
   * subscriptions that depend on the changed resource.
   */
  #onPermissionChange(tenant: string, change: PermissionChange): void {
    const affected = this.#recheck(
      (principal) => principal.tenant === tenant && changeConcerns(change, principal),
      change.resource,
    );
    this.logger.debug({ tenant, ...change, connections: affected }, 'permission change');
  }

  /**
   * Permission changes published while `changes` (the bus they arrive on) was disconnected
   * never arrive, so after each reconnect every subscription a delegate granted is asked
   * about again, as if everything had changed. The pause (0.5–1.5 s, spread per gateway)
   * lets the authorizer and the domain services reconnect first.
   */
  recheckAfterReconnects(changes: Bus): void {
    changes.onStatus((status) => {
      if (status.type !== 'reconnected') return;
      setTimeout(
        () => {
          const affected = this.#recheck(() => true, undefined);
          this.logger.info({ connections: affected }, 'delegated subscriptions checked again');
        },
        500 + Math.random() * 1_000,
      ).unref();
    });
  }

  #recheck(concerns: (principal: Principal) => boolean, resource: string | undefined): number {
    let affected = 0;
    this.#session.permissionChanges.count++;
    for (const ws of this.#connections) {
      const conn = ws.getUserData().conn;
      if (!conn.principal || !concerns(conn.principal)) continue;
      forgetGrants(conn);
      const ids: string[] = [];
      for (const held of conn.subscriptions) {
        if (held.dependsOn && (resource === undefined || held.dependsOn.includes(resource)))
          ids.push(held.id);
      }
      if (ids.length === 0) continue;
      affected++;
      this.#enqueue(ws, undefined, () => reevaluate(this.#session, ws, ids, true), true);
    }
    return affected;
  }

  #checkBacklogs(): void {
    this.#topics.resetPublished();
    const limit = this.settings.MAX_BACKPRESSURE_BYTES;
    this.#slowConsumers += closeSlowConsumers(this.#connections, limit, this.logger);
    this.#addressRate.prune();
  }

  #refuseBusy(ws: Socket, requestId: string | undefined): void {
    const reason = `More than ${MAX_QUEUED} messages are waiting for an answer`;
    ws.send(
      errorFrame({ code: 'rate_limit_exceeded', requestId, details: { reason } }),
      false,
      false,
    );
  }

  /** Runs `task` after the connection's earlier messages, so replies keep request order. */
  #enqueue(
    ws: Socket,
    requestId: string | undefined,
    task: () => Promise<void> | void,
    internal = false,
  ): void {
    const conn = ws.getUserData().conn;
    const inbox = (conn.inbox ??= new Inbox());
    if (inbox.queued >= MAX_QUEUED && !internal) return this.#refuseBusy(ws, requestId);
    inbox.queued++;
    inbox.queue = inbox.queue
      // Frames still queued when the socket closes are dropped, not sent to auth or the authorizer.
      .then(() => (conn.closed ? undefined : task()))
      .catch((err: unknown) => {
        this.logger.error({ err, connId: conn.id }, 'message handling failed');
        if (!conn.closed) ws.send(errorFrame({ code: 'server_error' }), false, false);
      })
      .finally(() => {
        // An idle connection lets go of its inbox; the next message makes a new one.
        if (--inbox.queued === 0 && conn.inbox === inbox) conn.inbox = undefined;
      });
  }
}
