import { expect, it } from 'vitest';

import {
  KEY_SPECS,
  TOKEN_SUBJECT,
  unsignedToken,
  type TestCredentials,
} from '../harness/credentials.ts';
import { connect, ofType } from '../harness/ws-client.ts';
import { describeEachStack } from './matrix.ts';
import { gatewayUrl, ISO_MS, request, anyString, matching } from './steps.ts';

type AuthFields = Record<string, string>;

/** Credentials the gateway must refuse, each built from the stack's own issuer and keys. */
const REFUSED: ReadonlyArray<{
  name: string;
  auth: (c: TestCredentials) => Promise<AuthFields> | AuthFields;
}> = [
  { name: 'an unknown API key', auth: () => ({ api_key: 'sbk_not-a-key-anyone-issued' }) },
  { name: 'a revoked API key', auth: (c) => ({ api_key: c.keys.revoked }) },
  { name: 'an expired API key', auth: (c) => ({ api_key: c.keys.expired }) },
  {
    name: 'a JWT from an untrusted issuer',
    auth: async (c) => ({ token: await c.signToken({ iss: 'https://evil.test' }) }),
  },
  {
    name: 'a JWT for another audience',
    auth: async (c) => ({ token: await c.signToken({ aud: 'someone-else' }) }),
  },
  {
    name: 'a JWT signed with another secret',
    auth: async (c) => ({ token: await c.signToken({}, { secret: 'x'.repeat(48) }) }),
  },
  {
    name: 'an expired JWT',
    auth: async (c) => ({ token: await c.signToken({}, { expiresInSeconds: -600 }) }),
  },
  {
    name: 'an unsigned JWT (alg none)',
    auth: (c) => ({
      token: unsignedToken({
        ...TOKEN_SUBJECT,
        iss: c.jwt.issuer,
        aud: c.jwt.audience,
        exp: Math.floor(Date.now() / 1000) + 3600,
      }),
    }),
  },
  { name: 'a string that is no JWT', auth: () => ({ token: 'not.a.jwt' }) },
];

describeEachStack('authentication', {}, (sut) => {
  it('sends auth_success right after the upgrade when the API key is in the query string', async () => {
    const client = await connect(
      gatewayUrl(sut.stack, { api_key: sut.stack.credentials.keys.alice }),
    );

    expect(await client.next()).toEqual({
      type: 'auth_success',
      connection_id: anyString,
      tenant: 'acme',
      user_id: 'alice',
      plan: 'enterprise',
    });
  });

  it('serves /v1 without the trailing slash and accepts the v and client_id parameters', async () => {
    const url = new URL(gatewayUrl(sut.stack, { v: '1', client_id: 'conformance-suite' }));
    url.pathname = '/v1';
    url.searchParams.set('api_key', sut.stack.credentials.keys.alice);
    const client = await connect(url.toString());

    expect(await client.next()).toMatchObject({ type: 'auth_success', user_id: 'alice' });
  });

  it('gives every connection its own connection_id', async () => {
    const first = await connect(
      gatewayUrl(sut.stack, { api_key: sut.stack.credentials.keys.alice }),
    );
    const second = await connect(
      gatewayUrl(sut.stack, { api_key: sut.stack.credentials.keys.alice }),
    );

    const [a, b] = [
      await first.next(ofType('auth_success')),
      await second.next(ofType('auth_success')),
    ];
    expect(a.connection_id).not.toEqual(b.connection_id);
  });

  it.each(['alice', 'bob', 'dave', 'carol'] as const)(
    'answers an auth message with the api_key of %s with that key’s tenant, user and plan',
    async (name) => {
      const client = await connect(gatewayUrl(sut.stack));
      const reply = await request(client, {
        type: 'auth',
        api_key: sut.stack.credentials.keys[name],
      });

      const spec = KEY_SPECS[name];
      expect(reply).toMatchObject({
        type: 'auth_success',
        connection_id: anyString,
        tenant: spec.tenant,
        user_id: spec.userId,
        plan: spec.plan,
      });
    },
  );

  it('accepts a JWT and reports its subject as the user and its expiry as expires_at', async () => {
    const exp = Math.floor(Date.now() / 1000) + 1800;
    const token = await sut.stack.credentials.signToken({ exp });
    const client = await connect(gatewayUrl(sut.stack));

    const reply = await request(client, { type: 'auth', token });

    expect(reply).toMatchObject({
      type: 'auth_success',
      connection_id: anyString,
      tenant: TOKEN_SUBJECT.tenant,
      user_id: TOKEN_SUBJECT.sub,
      plan: TOKEN_SUBJECT.plan,
      expires_at: new Date(exp * 1000).toISOString(),
    });
    expect(reply.expires_at).toMatch(ISO_MS);
  });

  it.each(REFUSED.map((r) => [r.name, r.auth] as const))(
    'refuses %s with invalid_credentials and lets the client try again',
    async (_name, auth) => {
      const client = await connect(gatewayUrl(sut.stack));

      const refusal = await request(client, {
        type: 'auth',
        ...(await auth(sut.stack.credentials)),
      });
      expect(refusal).toEqual({
        type: 'auth_error',
        code: 'invalid_credentials',
        message: anyString,
        request_id: refusal.request_id,
      });

      const retry = await request(client, {
        type: 'auth',
        api_key: sut.stack.credentials.keys.alice,
      });
      expect(retry).toMatchObject({ type: 'auth_success', user_id: 'alice' });
    },
  );

  it('gives unknown, revoked and expired API keys the same answer', async () => {
    const { keys } = sut.stack.credentials;
    const answers = [];
    for (const api_key of ['sbk_unknown', keys.revoked, keys.expired]) {
      const client = await connect(gatewayUrl(sut.stack));
      const { request_id: _id, ...answer } = await request(client, { type: 'auth', api_key });
      answers.push(answer);
    }

    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('refuses a bad key in the query string and keeps the socket open for an auth message', async () => {
    const client = await connect(gatewayUrl(sut.stack, { api_key: 'sbk_wrong' }));

    expect(await client.next()).toMatchObject({ type: 'auth_error', code: 'invalid_credentials' });
    const retry = await request(client, { type: 'auth', api_key: sut.stack.credentials.keys.bob });
    expect(retry).toMatchObject({ type: 'auth_success', user_id: 'bob' });
  });

  it('closes the connection with 4500 after three failed attempts', async () => {
    const client = await connect(gatewayUrl(sut.stack));

    for (const attempt of [1, 2]) {
      const refusal = await request(client, { type: 'auth', api_key: `sbk_wrong_${attempt}` });
      expect(refusal).toMatchObject({ type: 'auth_error', code: 'invalid_credentials' });
    }
    client.send({ type: 'auth', api_key: 'sbk_wrong_3' });

    expect(await client.closed).toMatchObject({ code: 4500 });
  });

  it('answers an auth message with neither api_key nor token with invalid_message_format', async () => {
    const client = await connect(gatewayUrl(sut.stack));

    const reply = await request(client, { type: 'auth' });

    expect(reply).toMatchObject({
      type: 'error',
      code: 'invalid_message_format',
      request_id: reply.request_id,
    });
    expect(client.isOpen).toBe(true);
  });

  it.each([
    ['subscribe', { type: 'subscribe', channel: 'projects.updates', project_id: 'proj_1' }],
    ['unsubscribe', { type: 'unsubscribe', subscription_id: 'sub_anything' }],
  ] as const)(
    'answers %s before authentication with authentication_required',
    async (_type, message) => {
      const client = await connect(gatewayUrl(sut.stack));

      const reply = await request(client, message);

      expect(reply).toMatchObject({
        type: 'error',
        code: 'authentication_required',
        request_id: reply.request_id,
      });
      const auth = await request(client, {
        type: 'auth',
        api_key: sut.stack.credentials.keys.alice,
      });
      expect(auth).toMatchObject({ type: 'auth_success' });
    },
  );

  it('answers ping before authentication', async () => {
    const client = await connect(gatewayUrl(sut.stack));

    const reply = await request(client, { type: 'ping' });

    expect(reply).toEqual({
      type: 'pong',
      timestamp: matching(ISO_MS),
      request_id: reply.request_id,
    });
  });

  it('lets an application key without a user authenticate', async () => {
    const client = await connect(gatewayUrl(sut.stack));

    const reply = await request(client, {
      type: 'auth',
      api_key: sut.stack.credentials.keys.acmeDashboard,
    });

    expect(reply).toMatchObject({ type: 'auth_success', tenant: 'acme', plan: 'enterprise' });
  });
});
