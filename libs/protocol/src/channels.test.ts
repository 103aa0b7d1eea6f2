import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ChannelConfigError, ChannelRegistry, type ChannelSpec } from './channels.ts';

const registry = ChannelRegistry.defaults();

/** The subject a subscribe resolves to, or the reason it is refused. */
function subscribe(tenant: string, channel: string, params: Record<string, string>): string {
  const checked = registry.checkSubscription(channel, params);
  if (!checked.ok) return `refused: ${checked.reason}`;
  return registry.subscriptionSubject(tenant, checked.channel, params);
}

function withChannels(channels: ChannelSpec[], includeDefaults = true): ChannelRegistry {
  return ChannelRegistry.fromSpec({ includeDefaults, channels });
}

describe('the built-in channel catalog', () => {
  it('puts the tenant in the subject and a wildcard for an absent optional parameter', () => {
    expect(subscribe('acme', 'projects.updates', {})).toBe('sb.ev.acme.projects.updates.*');
    expect(subscribe('acme', 'tasks.updates', { project_id: 'p1' })).toBe(
      'sb.ev.acme.tasks.updates.p1.*',
    );
  });

  it('reports the seed reason for a missing required parameter', () => {
    expect(subscribe('acme', 'tasks.updates', {})).toBe(
      'refused: Missing required parameter: project_id',
    );
  });

  it('subscribes to comments by project or by task, and needs one of them', () => {
    expect(subscribe('t', 'comments.updates', { task_id: 'x' })).toBe(
      'sb.ev.t.comments.updates.*.x',
    );
    expect(subscribe('t', 'comments.updates', {})).toMatch(/^refused: .*one of project_id/);
  });

  it('maps data.<resource_type> to its own tokens', () => {
    expect(subscribe('t', 'data.orders', { resource_id: 'o1' })).toBe('sb.ev.t.data.orders.o1');
    expect(subscribe('t', 'data.a.b', {})).toMatch(/^refused: Unknown channel/);
    expect(subscribe('t', 'data.*', {})).toMatch(/^refused: Unknown channel/);
    expect(registry.resolvePublication('t', 'data.*', {})).toMatchObject({ ok: false });
  });

  it.each(['proj.1', '*', '>', 'a b', '', '_', '-x', 'x'.repeat(129), 'é'])(
    'refuses the unsafe id %j',
    (id) => {
      expect(subscribe('t', 'projects.updates', { project_id: id })).toMatch(/^refused: Invalid/);
    },
  );

  it('refuses unknown channels and parameters', () => {
    expect(subscribe('t', 'nope', {})).toBe('refused: Unknown channel: nope');
    expect(subscribe('t', 'projects.updates', { colour: 'red' })).toBe(
      'refused: Unknown parameter: colour',
    );
  });

  it('publishes on a concrete subject with a placeholder for an absent optional parameter', () => {
    expect(
      registry.resolvePublication('acme', 'tasks.updates', { project_id: 'p1' }),
    ).toMatchObject({ subject: 'sb.ev.acme.tasks.updates.p1._' });
  });

  it('needs the parameters that key the subject to publish', () => {
    expect(registry.resolvePublication('acme', 'projects.updates', {})).toMatchObject({
      ok: false,
    });
    expect(registry.resolvePublication('acme', 'notifications', {})).toMatchObject({ ok: false });
  });

  it('guards notifications with the own-user policy and everything else tenant-wide', () => {
    expect(registry.find('notifications')?.definition.policies).toEqual([
      { type: 'own_user', param: 'user_id' },
    ]);
    expect(registry.find('chat.messages')?.definition.policies).toEqual([{ type: 'tenant' }]);
  });
});

describe('a channels file', () => {
  it('adds channels with parameter schemas, subject templates and policies', () => {
    const custom = withChannels([
      {
        name: 'invoices.status',
        params: {
          account_id: { required: true, pattern: 'acct_[0-9]+' },
          state: { enum: ['open', 'paid'] },
        },
        subject: 'billing.{account_id}.invoices.{state}',
        policy: [{ type: 'scope', scope: 'billing:read' }],
      },
    ]);
    const ok = custom.checkSubscription('invoices.status', { account_id: 'acct_7' });
    expect(ok.ok && custom.subscriptionSubject('t', ok.channel, { account_id: 'acct_7' })).toBe(
      'sb.ev.t.billing.acct_7.invoices.*',
    );
    expect(custom.checkSubscription('invoices.status', { account_id: 'x' })).toEqual({
      ok: false,
      reason: 'Invalid parameter account_id: must match acct_[0-9]+',
    });
    expect(
      custom.checkSubscription('invoices.status', { account_id: 'acct_1', state: 'late' }),
    ).toEqual({ ok: false, reason: 'Invalid parameter state: one of open, paid' });
    expect(
      custom.resolvePublication('t', 'invoices.status', { account_id: 'acct_1', state: 'paid' }),
    ).toMatchObject({ subject: 'sb.ev.t.billing.acct_1.invoices.paid' });
    // The defaults are still there unless the file says otherwise.
    expect(custom.find('chat.messages')).toBeDefined();
    expect(withChannels([], false).find('chat.messages')).toBeUndefined();
  });

  it('replaces a built-in channel of the same name', () => {
    const custom = withChannels([
      {
        name: 'projects.updates',
        params: { project_id: {} },
        publishRequires: ['project_id'],
        policy: { type: 'claim', claim: 'projects', param: 'project_id' },
      },
    ]);
    expect(custom.find('projects.updates')?.definition.policies[0]).toMatchObject({
      type: 'claim',
    });
  });

  it('matches pattern names token by token', () => {
    const custom = withChannels([{ name: 'metrics.*.live', params: { host: { required: true } } }]);
    const checked = custom.checkSubscription('metrics.cpu.live', { host: 'h1' });
    expect(checked.ok && custom.subscriptionSubject('t', checked.channel, { host: 'h1' })).toBe(
      'sb.ev.t.metrics.cpu.live.h1',
    );
    expect(custom.find('metrics.cpu.mem.live')).toBeUndefined();
  });

  it.each<[string, ChannelSpec[], RegExp]>([
    [
      'a subject naming an unknown parameter',
      [{ name: 'a.b', subject: '{channel}.{x}' }],
      /unknown parameter x/,
    ],
    [
      'a parameter missing from the subject',
      [{ name: 'a.b', params: { x: {} }, subject: '{channel}' }],
      /exactly once/,
    ],
    ['a wildcard literal', [{ name: 'a.b', subject: 'a.*' }], /neither/],
    ['a reserved parameter name', [{ name: 'a.b', params: { event: {} } }], /reserved/],
    [
      'a bad regular expression',
      [{ name: 'a.b', params: { x: { pattern: '(' } } }],
      /regular expression/,
    ],
    [
      'a policy on an unknown parameter',
      [{ name: 'a.b', policy: { type: 'own_user', param: 'u' } }],
      /unknown parameter u/,
    ],
    [
      'two expanding policies',
      [
        {
          name: 'a.b',
          params: { x: {}, y: {} },
          policy: [
            { type: 'claim', claim: 'c', param: 'x' },
            { type: 'delegate', resource: 'r', param: 'y' },
          ],
        },
      ],
      /at most one/,
    ],
    [
      'the reserved delegate resource',
      [{ name: 'a.b', policy: { type: 'delegate', resource: 'changed' } }],
      /reserved/,
    ],
    ['an all-wildcard name', [{ name: '*.*' }], /name must be/],
    [
      'an exact channel under a pattern',
      [{ name: 'data.orders', params: { resource_id: {} } }],
      /data.orders and data\.\*|data\.\* and data.orders/,
    ],
    [
      'templates that can coincide',
      [
        { name: 'x', params: { a: {}, b: {} } },
        { name: 'x.y', params: { c: {} } },
      ],
      /same subject/,
    ],
  ])('refuses %s', (_, channels, message) => {
    expect(() => withChannels(channels)).toThrow(message);
  });

  it('refuses unknown fields and names the place', () => {
    expect(() =>
      ChannelRegistry.fromSpec({ channels: [{ name: 'a', colour: 1 }] }, 'f.json'),
    ).toThrow(ChannelConfigError);
    expect(() =>
      ChannelRegistry.fromSpec({ channels: [{ name: 'a', colour: 1 }] }, 'f.json'),
    ).toThrow(/^f\.json: \/channels\/0/);
  });

  it('accepts the example file in deploy/examples', () => {
    const example = new URL('../../../deploy/examples/channels.json', import.meta.url).pathname;
    const registry = ChannelRegistry.fromFile(example);
    expect(registry.find('boards.updates')?.definition.policies[0]).toMatchObject({
      type: 'delegate',
    });
    expect(registry.find('chat.messages')).toBeDefined();
  });

  it('reads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'channels-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ channels: [{ name: 'alerts', params: { team: {} } }] }));
    expect(ChannelRegistry.fromFile(good).find('alerts')).toBeDefined();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"channels": [');
    expect(() => ChannelRegistry.fromFile(bad)).toThrow(new RegExp(`^${bad}: `));
  });
});
