import type { Bus, BusHeaders } from './types.ts';

/** Sends a JSON request and decodes the reply with `decode` (which validates it). */
export async function requestJson<T>(
  bus: Bus,
  subject: string,
  body: unknown,
  decode: (bytes: Uint8Array) => T,
  options: { timeoutMs: number; headers?: BusHeaders },
): Promise<T> {
  const reply = await bus.request(subject, Buffer.from(JSON.stringify(body)), options);
  return decode(reply.data);
}
