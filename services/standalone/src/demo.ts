import { randomBytes } from 'node:crypto';

import { SignJWT } from 'jose';

import {
  generateApiKey,
  hashApiKey,
  type ApiKeyEntry,
  type CredentialsFile,
} from '@switchboard/auth';

export const DEMO_TENANT = 'demo';
export const DEMO_ISSUER = 'switchboard-dev';
export const DEMO_AUDIENCE = 'switchboard';

/** Credentials made up at start-up for a first run without a config file. */
export interface DemoCredentials {
  readonly credentials: CredentialsFile;
  /** Plain keys, shown once in the banner: one client key per plan, one server key. */
  readonly clientKeys: Readonly<Record<string, string>>;
  readonly serverKey: string;
  /** Revokes keys, tokens and users of the demo tenant (`npm run keys -- revoke`). */
  readonly adminKey: string;
  readonly jwtSecret: string;
  readonly sampleToken: string;
}

const PLAN_USERS: Record<string, string> = {
  free: 'alice',
  professional: 'bob',
  business: 'carol',
  enterprise: 'dave',
};

/** Fresh random demo keys on every start, so no well-known key ever works twice. */
export async function createDemoCredentials(): Promise<DemoCredentials> {
  const clientKeys: Record<string, string> = {};
  const apiKeys: ApiKeyEntry[] = [];
  for (const [plan, userId] of Object.entries(PLAN_USERS)) {
    const key = generateApiKey();
    clientKeys[plan] = key;
    apiKeys.push({
      hash: hashApiKey(key),
      tenant: DEMO_TENANT,
      plan,
      userId,
      scopes: ['subscribe'],
      label: `demo ${plan}`,
    });
  }
  const serverKey = generateApiKey();
  apiKeys.push({
    hash: hashApiKey(serverKey),
    tenant: DEMO_TENANT,
    plan: 'enterprise',
    appId: 'demo-backend',
    scopes: ['publish'],
    label: 'demo server key',
  });
  const adminKey = generateApiKey();
  apiKeys.push({
    hash: hashApiKey(adminKey),
    tenant: DEMO_TENANT,
    plan: 'enterprise',
    appId: 'demo-ops',
    scopes: ['admin'],
    label: 'demo admin key',
  });

  const jwtSecret = randomBytes(32).toString('base64url');
  const sampleToken = await new SignJWT({ tenant: DEMO_TENANT, plan: 'professional' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('erin')
    .setIssuer(DEMO_ISSUER)
    .setAudience(DEMO_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(jwtSecret));

  const credentials: CredentialsFile = {
    apiKeys,
    jwt: [{ issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE, secret: jwtSecret }],
  };
  return { credentials, clientKeys, serverKey, adminKey, jwtSecret, sampleToken };
}

/** Where a person reaches the demo. */
export interface DemoEndpoints {
  readonly title: string;
  /** WebSocket URLs, e.g. `ws://127.0.0.1:8080/v1/`. */
  readonly socketUrls: readonly string[];
  readonly publishUrl: string;
}

/** The start-up text a person reads: keys, a token, and commands to paste. */
export function demoBanner(demo: DemoCredentials, endpoints: DemoEndpoints): string {
  const socketUrl = endpoints.socketUrls[0];
  const freeKey = demo.clientKeys.free;
  const subscribe = JSON.stringify({
    type: 'subscribe',
    channel: 'projects.updates',
    project_id: 'proj_12345',
    request_id: 'r1',
  });
  const listen =
    `node -e "const ws=new (require('ws'))('${socketUrl}?api_key=${freeKey}');` +
    `ws.on('open',()=>ws.send(JSON.stringify(${subscribe.replaceAll('"', "'")})));` +
    `ws.on('message',m=>console.log(String(m)))"`;
  const body = JSON.stringify({
    channel: 'projects.updates',
    event: 'project.updated',
    project_id: 'proj_12345',
    data: { name: 'Hello' },
  });

  return [
    '',
    `${endpoints.title}: ${endpoints.socketUrls.join('  ')}  and  ${endpoints.publishUrl}`,
    `No SWITCHBOARD_CONFIG: demo tenant "${DEMO_TENANT}" with keys made for this run only.`,
    '',
    'Client keys (scope subscribe):',
    ...Object.entries(demo.clientKeys).map(
      ([plan, key]) => `  ${plan.padEnd(13)} ${key}   (user ${PLAN_USERS[plan]})`,
    ),
    `Server key (scope publish):  ${demo.serverKey}`,
    `Admin key (scope admin):     ${demo.adminKey}`,
    '',
    `Dev JWT (HS256, iss ${DEMO_ISSUER}, aud ${DEMO_AUDIENCE}, user erin, 1 h):`,
    `  ${demo.sampleToken}`,
    `  sign more: npm run keys -- token --secret ${demo.jwtSecret} --issuer ${DEMO_ISSUER} --tenant ${DEMO_TENANT} --user frank`,
    '',
    '1) listen:',
    `  ${listen}`,
    '2) publish:',
    `  curl -s -X POST ${endpoints.publishUrl} -H 'Authorization: Bearer ${demo.serverKey}' \\`,
    `    -H 'Content-Type: application/json' -d '${body}'`,
    '',
  ].join('\n');
}
