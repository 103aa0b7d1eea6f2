import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

/** Longest `request_id` the gateway echoes back. */
export const MAX_REQUEST_ID_LENGTH = 128;

const RequestId = Type.Optional(Type.String({ minLength: 1, maxLength: MAX_REQUEST_ID_LENGTH }));

const Auth = Type.Object({
  type: Type.Literal('auth'),
  api_key: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  token: Type.Optional(Type.String({ minLength: 1, maxLength: 16384 })),
  request_id: RequestId,
});

/** Channel parameters sit at the top level, beside `type`, `channel` and `request_id`. */
const Subscribe = Type.Object(
  {
    type: Type.Literal('subscribe'),
    channel: Type.String({ minLength: 1, maxLength: 256 }),
    request_id: RequestId,
  },
  { additionalProperties: Type.String({ maxLength: 256 }) },
);

const Unsubscribe = Type.Object({
  type: Type.Literal('unsubscribe'),
  subscription_id: Type.String({ minLength: 1, maxLength: 128 }),
  request_id: RequestId,
});

const Ping = Type.Object({ type: Type.Literal('ping'), request_id: RequestId });
const Pong = Type.Object({ type: Type.Literal('pong'), request_id: RequestId });

export type AuthMessage = Static<typeof Auth>;
export type SubscribeMessage = Static<typeof Subscribe>;
export type UnsubscribeMessage = Static<typeof Unsubscribe>;
export type PingMessage = Static<typeof Ping>;
export type PongMessage = Static<typeof Pong>;
export type ClientMessage =
  AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage | PongMessage;

const validators = {
  auth: Compile(Auth),
  subscribe: Compile(Subscribe),
  unsubscribe: Compile(Unsubscribe),
  ping: Compile(Ping),
  pong: Compile(Pong),
} as const;

type ClientMessageType = keyof typeof validators;

/** Why a frame could not be read as a client message, naming the field at fault. */
export interface FormatProblem {
  readonly reason: string;
  readonly field?: string;
  /** The frame's `request_id`, when it had a usable one. */
  readonly requestId?: string;
}

export type ParseResult =
  { readonly ok: true; readonly message: ClientMessage } | ({ readonly ok: false } & FormatProblem);

function usableRequestId(value: Record<string, unknown>): string | undefined {
  const id = value.request_id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_REQUEST_ID_LENGTH)
    return undefined;
  return id;
}

function fieldOf(instancePath: string, fallback?: string): string | undefined {
  const field = instancePath.replace(/^\//, '').replaceAll('/', '.');
  return field || fallback;
}

/** Parses one text frame from a client. Never throws. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'Message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'Message must be a JSON object' };
  }

  const record = value as Record<string, unknown>;
  const requestId = usableRequestId(record);
  const type = record.type;
  if (type === undefined)
    return { ok: false, reason: 'Missing field: type', field: 'type', requestId };
  if (typeof type !== 'string' || !Object.hasOwn(validators, type)) {
    return {
      ok: false,
      reason: `Unknown message type: ${JSON.stringify(type)}`,
      field: 'type',
      requestId,
    };
  }

  const validator = validators[type as ClientMessageType];
  if (validator.Check(record)) return { ok: true, message: record };

  const [first] = validator.Errors(record);
  const missing = first?.keyword === 'required' ? first.params : undefined;
  const missingField = (missing as { requiredProperties?: string[] } | undefined)
    ?.requiredProperties?.[0];
  if (missingField) {
    return { ok: false, reason: `Missing field: ${missingField}`, field: missingField, requestId };
  }
  const field = fieldOf(first?.instancePath ?? '');
  return {
    ok: false,
    reason: `Invalid field ${field ?? 'message'}: ${first?.message ?? 'does not match the schema'}`,
    field,
    requestId,
  };
}

/** The channel parameters of a subscribe message: everything but the envelope fields. */
export function subscribeParams(message: SubscribeMessage): Record<string, string> {
  const { type: _type, channel: _channel, request_id: _requestId, ...params } = message;
  return params;
}
