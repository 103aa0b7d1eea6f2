/** Longest id a client may use as a channel parameter, tenant or resource type. */
export const MAX_ID_LENGTH = 128;

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * True when `value` can stand as exactly one NATS subject token.
 * It must start with a letter or digit so that it never collides with the
 * placeholder token used for absent optional parameters.
 */
export function isSafeId(value: unknown): value is string {
  return typeof value === 'string' && SAFE_ID.test(value);
}

export const SAFE_ID_RULE = `1-${MAX_ID_LENGTH} letters, digits, '_' or '-', starting with a letter or digit`;
