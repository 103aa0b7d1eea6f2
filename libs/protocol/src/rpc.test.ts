import { describe, expect, it } from 'vitest';

import { DEFAULT_PLANS } from './plans.ts';
import { encodeAuthorizeRequest, encodePrincipal, type Principal } from './rpc.ts';

const principal: Principal = {
  tenant: 't1',
  userId: 'u1',
  plan: 'pro',
  scopes: ['subscribe'],
  method: 'api_key',
  credentialId: 'k1',
  limits: DEFAULT_PLANS.professional!,
};

describe('request encoding', () => {
  it('encodes an authorize request as JSON.stringify would, fresh flag included', () => {
    const items = [{ channel: 'chat.messages', params: { room_id: 'r1' } }];
    for (const request of [
      { principal, items },
      { principal, items, fresh: true },
    ])
      expect(JSON.parse(encodeAuthorizeRequest(request))).toEqual(request);
  });

  it('serialises a principal once per object, and each object apart', () => {
    const shared: { -readonly [K in keyof Principal]: Principal[K] } = { ...principal };
    const text = encodePrincipal(shared);
    // Principals are never changed; the change here only shows that the text is reused.
    shared.tenant = 't2';
    expect(encodePrincipal(shared)).toBe(text);
    expect(JSON.parse(encodePrincipal({ ...shared }))).toMatchObject({ tenant: 't2' });
  });
});
