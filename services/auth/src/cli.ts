import { parseArgs } from 'node:util';

import { SignJWT } from 'jose';

import { DEFAULT_PLANS, isSafeId, type Scope } from '@switchboard/protocol';

import { generateApiKey, hashApiKey, keyIdFromHash } from './api-keys.ts';
import type { ApiKeyEntry } from './credentials-file.ts';

const USAGE = `usage:
  npm run keys -- create --tenant <id> --plan <free|professional|business|enterprise>
                         (--user <id> | --app <id>) [--scopes subscribe,publish,admin,...] [--label <text>]
      Prints a new API key once, and the entry to add to "apiKeys" in the credentials file.
  npm run keys -- create --url <http://host:port> --admin-key <key> --plan <plan> (--user <id> | --app <id>)
                         [--scopes subscribe,publish,...] [--label <text>]
      Asks the running service to create and store the key (in the admin key's tenant); prints it once.
  npm run keys -- list --url <http://host:port> --admin-key <key>
      Lists the tenant's keys (config file and created), without secrets.
  npm run keys -- hash <key>
      Prints the stored form of an existing key.
  npm run keys -- revoke --url <http://host:port> --admin-key <key> (--key <key id> | --token <jti> | --user <id>)
      Revokes a key, a token or a user's tokens in the admin key's tenant; live connections close (4502).
      The URL is the publish API's (the standalone port, or the publisher's). Env: SWITCHBOARD_URL, SWITCHBOARD_ADMIN_KEY.
  npm run keys -- token --secret <hs256 secret> --issuer <iss> --tenant <id> --user <id>
                        [--audience switchboard] [--plan free] [--ttl 1h]
      Signs a development JWT.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function requireId(name: string, value: string | undefined): string {
  if (!isSafeId(value)) fail(`--${name} must be 1-128 letters, digits, '_' or '-'`);
  return value;
}

function create(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      tenant: { type: 'string' },
      plan: { type: 'string' },
      user: { type: 'string' },
      app: { type: 'string' },
      scopes: { type: 'string', default: 'subscribe' },
      label: { type: 'string' },
    },
  });
  const tenant = requireId('tenant', values.tenant);
  if (!values.plan || !/^[a-z][a-z0-9_-]{0,63}$/.test(values.plan))
    fail('--plan must be a plan name');
  if (!Object.hasOwn(DEFAULT_PLANS, values.plan)) {
    process.stderr.write(`note: "${values.plan}" is not a default plan; define it under "plans"
`);
  }
  if (Boolean(values.user) === Boolean(values.app)) fail('give exactly one of --user or --app');
  const scopes = values.scopes.split(',').map((s) => s.trim());
  if (!scopes.every((s): s is Scope => /^[a-z][a-z0-9_.:-]{0,63}$/.test(s)))
    fail('--scopes: subscribe, publish, admin or your own (lowercase, e.g. reports:read)');

  const key = generateApiKey();
  const hash = hashApiKey(key);
  const entry: ApiKeyEntry = {
    id: keyIdFromHash(hash),
    hash,
    tenant,
    plan: values.plan,
    userId: values.user ? requireId('user', values.user) : undefined,
    appId: values.app ? requireId('app', values.app) : undefined,
    scopes,
    label: values.label,
  };
  process.stdout.write(`API key (shown once, store it now):\n  ${key}\n\nEntry for "apiKeys":\n`);
  process.stdout.write(`${JSON.stringify(entry, null, 2)}\n`);
}

async function token(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      secret: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string', default: 'switchboard' },
      tenant: { type: 'string' },
      user: { type: 'string' },
      plan: { type: 'string', default: 'free' },
      ttl: { type: 'string', default: '1h' },
    },
  });
  if (!values.secret || values.secret.length < 32) fail('--secret must be at least 32 characters');
  if (!values.issuer) fail('--issuer is required');
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(values.plan)) fail('--plan must be a plan name');
  const jwt = await new SignJWT({ tenant: requireId('tenant', values.tenant), plan: values.plan })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(requireId('user', values.user))
    .setIssuer(values.issuer)
    .setAudience(values.audience)
    .setIssuedAt()
    .setExpirationTime(values.ttl)
    .sign(new TextEncoder().encode(values.secret));
  process.stdout.write(`${jwt}\n`);
}

/** The admin API's URL and key, from flags or SWITCHBOARD_URL / SWITCHBOARD_ADMIN_KEY. */
const ADMIN_OPTIONS = {
  url: { type: 'string', default: process.env.SWITCHBOARD_URL },
  'admin-key': { type: 'string', default: process.env.SWITCHBOARD_ADMIN_KEY },
} as const;

async function callAdmin(
  values: { url?: string; 'admin-key'?: string },
  path: string,
  body?: unknown,
): Promise<void> {
  if (!values.url || !values['admin-key']) fail('--url and --admin-key are required');
  const response = await fetch(new URL(path, values.url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${values['admin-key']}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) fail(`refused (${response.status}): ${text}`);
  process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
}

async function revoke(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...ADMIN_OPTIONS,
      key: { type: 'string' },
      token: { type: 'string' },
      user: { type: 'string' },
    },
  });
  const targets = (['key', 'token', 'user'] as const).filter((kind) => values[kind] !== undefined);
  if (targets.length !== 1) fail('give exactly one of --key, --token, --user');
  const kind = targets[0]!;
  await callAdmin(values, '/v1/admin/revocations', { kind, id: values[kind] });
}

async function list(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: ADMIN_OPTIONS });
  await callAdmin(values, '/v1/admin/keys');
}

/** `create --url ...`: the running service makes and stores the key (KV in distributed mode). */
async function createOnline(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      ...ADMIN_OPTIONS,
      plan: { type: 'string' },
      user: { type: 'string' },
      app: { type: 'string' },
      scopes: { type: 'string', default: 'subscribe' },
      label: { type: 'string' },
      tenant: { type: 'string' },
    },
  });
  if (values.tenant) fail("--tenant is the admin key's own when --url is given; leave it out");
  await callAdmin(values, '/v1/admin/keys', {
    plan: values.plan,
    user_id: values.user,
    app_id: values.app,
    scopes: values.scopes.split(',').map((s) => s.trim()),
    label: values.label,
  });
}

const [command, ...rest] = process.argv.slice(2);
try {
  if (command === 'create' && (rest.includes('--url') || process.env.SWITCHBOARD_URL))
    await createOnline(rest);
  else if (command === 'create') create(rest);
  else if (command === 'list') await list(rest);
  else if (command === 'hash' && rest[0]) process.stdout.write(`${hashApiKey(rest[0])}\n`);
  else if (command === 'token') await token(rest);
  else if (command === 'revoke') await revoke(rest);
  else fail(command ? `unknown command: ${command}` : 'no command');
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
