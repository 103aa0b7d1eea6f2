import Type, { type Static, type TObject, type TProperties } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

/** A configuration value that stops start-up; the message names the key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly key: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${key}: ${reason}`, options);
  }
}

/** Keys whose values are never echoed in errors (NATS_URL may carry user:password). */
const SECRET_KEY = /SECRET|PASSWORD|TOKEN|API_KEY|CREDENTIAL|CREDS|NATS_URL/i;

/**
 * Reads a service's settings from environment variables. The schema's property
 * names are the variable names; `default` and `description` drive the docs table.
 */
export function loadEnv<T extends TObject>(
  schema: T,
  env: NodeJS.ProcessEnv = process.env,
): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }

  const converted = Value.Convert(schema, Value.Default(schema, raw));
  const validator = Compile(schema);
  if (validator.Check(converted)) return converted;

  const [first] = validator.Errors(converted);
  const key = first?.instancePath.replace(/^\//, '') || missingKey(first?.params) || 'environment';
  const given = env[key];
  const shown = SECRET_KEY.test(key) || given === undefined ? '' : ` (got "${given}")`;
  const choices = literalChoices(schema.properties[key]);
  const reason = choices
    ? `must be one of ${choices.join(', ')}`
    : (first?.message ?? 'invalid value');
  throw new ConfigError(key, `${reason}${shown}`);
}

function literalChoices(property: unknown): string[] | undefined {
  const anyOf = (property as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf;
  if (!anyOf?.every((s) => s.const !== undefined)) return undefined;
  return anyOf.map((s) => String(s.const));
}

function missingKey(params: unknown): string | undefined {
  return (params as { requiredProperties?: string[] } | undefined)?.requiredProperties?.[0];
}

/** Markdown rows (`| KEY | default | description |`) documenting a settings schema. */
export function envTable(schema: TObject<TProperties>): string {
  const rows = Object.entries(schema.properties).map(([key, property]) => {
    const p = property as { default?: unknown; description?: string };
    const shown = typeof p.default === 'string' ? p.default : JSON.stringify(p.default);
    const fallback = p.default === undefined ? '—' : shown === '' ? '(empty)' : `\`${shown}\``;
    return `| \`${key}\` | ${fallback} | ${p.description ?? ''} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

/** Common building blocks for settings schemas. */
export const Setting = {
  port: (fallback: number, description: string) =>
    Type.Integer({ minimum: 0, maximum: 65535, default: fallback, description }),
  millis: (fallback: number, description: string, minimum = 1) =>
    Type.Integer({ minimum, default: fallback, description }),
  bytes: (fallback: number, description: string) =>
    Type.Integer({ minimum: 64, maximum: 16 * 1024 * 1024, default: fallback, description }),
  logLevel: () =>
    Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino log level' },
    ),
  natsCreds: () =>
    Type.Optional(
      Type.String({
        minLength: 1,
        description: 'NATS credentials file (JWT + NKey) for authenticated clusters',
      }),
    ),
  channelsFile: () =>
    Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Channels file: channels, parameters, subjects and policies (docs/channels.md); default: the built-in catalog',
      }),
    ),
  natsUrl: () =>
    Type.String({
      minLength: 1,
      default: 'nats://127.0.0.1:4222',
      description: 'Comma-separated NATS server URLs',
    }),
} as const;
