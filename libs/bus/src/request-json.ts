import type { Bus, BusHeaders } from './types.ts';

/** A request body that is JSON text already, so `requestJson` sends it as it is. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** Sends a JSON request and decodes the reply with `decode` (which validates it). */
export async function requestJson<T>(
  bus: Bus,
  subject: string,
  body: unknown,
  decode: (bytes: Uint8Array) => T,
  options: { timeoutMs: number; headers?: BusHeaders },
): Promise<T> {
  const text = body instanceof JsonText ? body.text : JSON.stringify(body);
  const reply = await bus.request(subject, Buffer.from(text), options);
  return decode(reply.data);
}
