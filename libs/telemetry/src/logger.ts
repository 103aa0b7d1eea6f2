import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths pino replaces with `[redacted]` wherever they appear in a log line. */
const REDACT_PATHS = [
  'api_key',
  'token',
  'secret',
  'authorization',
  '*.api_key',
  '*.token',
  '*.secret',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
];

/** The service's root logger: JSON lines, `service` on every line, secrets redacted. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Server URLs with any `user:password@` removed, for start-up lines. */
export function redactUserinfo(urls: string): string {
  return urls.replace(/\/\/[^@/,\s]*@/g, '//[redacted]@');
}

/** A URL or query string with the value of `api_key` (and `token`) replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:api_key|token)=)[^&#]*/gi, '$1[redacted]');
}
