import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';

/**
 * What the three baseline servers share: their settings, the NATS feed, and the
 * tiny client protocol the load generator speaks (the Switchboard one, minus auth).
 */
export interface BaselineSettings {
  readonly port: number;
  readonly host: string;
  readonly natsUrl: string;
  /** Wildcard the baseline listens on; every event subject below it is one room. */
  readonly eventSubjects: string;
  /** Prefix a room id is appended to; rooms are keyed by their full subject. */
  readonly roomPrefix: string;
  readonly maxBackpressureBytes: number;
  /** Test-only fault injection: drop every Nth event so the smoke test can see a loss. */
  readonly dropEvery: number;
}

/** Reads the baseline settings from the environment the bench runner sets. */
export function readSettings(): BaselineSettings {
  const env = process.env;
  const roomPrefix = env.ROOM_PREFIX ?? 'sb.ev.bench.chat.messages.';
  return {
    port: Number(env.PORT ?? 9001),
    host: env.HOST ?? '127.0.0.1',
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    eventSubjects: `${roomPrefix}>`,
    roomPrefix,
    maxBackpressureBytes: Number(env.MAX_BACKPRESSURE_BYTES ?? 1024 * 1024),
    dropEvery: Number(env.BENCH_DROP_EVERY ?? 0),
  };
}

/** The first frame a client gets, standing in for Switchboard's auth result. */
export const AUTH_SUCCESS = JSON.stringify({ type: 'auth_success', connection_id: 'baseline' });

/** A subscribe request reduced to what the baselines need. */
export interface SubscribeRequest {
  readonly roomId: string;
  readonly requestId: string;
}

/** Parses a client text frame; anything that is not a subscribe is ignored. */
export function parseSubscribe(text: string): SubscribeRequest | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    process.stderr.write(`bad client frame: ${String(err)}\n`);
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const msg = parsed as Record<string, unknown>;
  if (msg.type !== 'subscribe' || typeof msg.room_id !== 'string') return undefined;
  return {
    roomId: msg.room_id,
    requestId: typeof msg.request_id === 'string' ? msg.request_id : '',
  };
}

/** The acknowledgement a subscribe gets back. */
export function subscriptionSuccess(request: SubscribeRequest, n: number): string {
  return JSON.stringify({
    type: 'subscription_success',
    request_id: request.requestId,
    subscription_id: `sub_${n}`,
    channel: 'chat.messages',
  });
}

/**
 * Feeds every event message to `onEvent` with its subject (the room key).
 * `dropEvery` exists only for the smoke test's self-check.
 */
export async function feedFromNats(
  settings: BaselineSettings,
  name: string,
  onEvent: (subject: string, data: Uint8Array) => void,
): Promise<NatsConnection> {
  const nc = await connect({ servers: settings.natsUrl, name });
  let seen = 0;
  nc.subscribe(settings.eventSubjects, {
    callback: (err: Error | null, msg: Msg) => {
      if (err) throw err;
      if (settings.dropEvery > 0 && ++seen % settings.dropEvery === 0) return;
      onEvent(msg.subject, msg.data);
    },
  });
  await nc.flush();
  return nc;
}

/** Prints the line the bench runner waits for, and exits cleanly on SIGTERM so --cpu-prof is written. */
export function announceReady(system: string, port: number): void {
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
  process.stdout.write(
    `${JSON.stringify({ level: 'info', service: system, port, msg: 'ready' })}\n`,
  );
}
