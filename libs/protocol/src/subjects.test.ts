import { describe, expect, it } from 'vitest';

import { CHANNELS } from './channels.ts';
import { resolvePublication, resolveSubscription } from './subjects.ts';

describe('resolveSubscription', () => {
  it('puts the tenant in the subject and a wildcard for an absent optional parameter', () => {
    expect(resolveSubscription('acme', 'projects.updates', {})).toMatchObject({
      ok: true,
      subject: 'sb.ev.acme.projects.updates.*',
    });
    expect(resolveSubscription('acme', 'tasks.updates', { project_id: 'p1' })).toMatchObject({
      subject: 'sb.ev.acme.tasks.updates.p1.*',
    });
  });

  it('reports the seed reason for a missing required parameter', () => {
    expect(resolveSubscription('acme', 'tasks.updates', {})).toEqual({
      ok: false,
      reason: 'Missing required parameter: project_id',
    });
  });

  it('subscribes to comments by project or by task, and needs one of them', () => {
    expect(resolveSubscription('t', 'comments.updates', { task_id: 'x' })).toMatchObject({
      subject: 'sb.ev.t.comments.updates.*.x',
    });
    expect(resolveSubscription('t', 'comments.updates', {})).toMatchObject({ ok: false });
  });

  it('takes the user of notifications from the principal', () => {
    expect(resolveSubscription('t', 'notifications', {}, 'alice')).toMatchObject({
      subject: 'sb.ev.t.notifications.alice',
    });
  });

  it('maps data.<resource_type> to its own tokens', () => {
    expect(resolveSubscription('t', 'data.orders', { resource_id: 'o1' })).toMatchObject({
      subject: 'sb.ev.t.data.orders.o1',
    });
    expect(resolveSubscription('t', 'data.a.b', {})).toMatchObject({ ok: false });
    expect(resolveSubscription('t', 'data.*', {})).toMatchObject({ ok: false });
    expect(resolvePublication('t', 'data.*', {})).toMatchObject({ ok: false });
  });

  it.each(['proj.1', '*', '>', 'a b', '', '_', '-x', 'x'.repeat(129), 'é'])(
    'refuses the unsafe id %j',
    (id) => {
      expect(resolveSubscription('t', 'projects.updates', { project_id: id })).toMatchObject({
        ok: false,
      });
    },
  );

  it('refuses unknown channels and parameters', () => {
    expect(resolveSubscription('t', 'nope', {})).toEqual({
      ok: false,
      reason: 'Unknown channel: nope',
    });
    expect(resolveSubscription('t', 'projects.updates', { colour: 'red' })).toEqual({
      ok: false,
      reason: 'Unknown parameter: colour',
    });
  });

  it('declares a subject token for every parameter of every channel', () => {
    for (const channel of CHANNELS) {
      expect(Object.keys(channel.params.properties).sort()).toEqual([...channel.subject].sort());
    }
  });
});

describe('resolvePublication', () => {
  it('publishes on a concrete subject with a placeholder for an absent optional parameter', () => {
    expect(resolvePublication('acme', 'tasks.updates', { project_id: 'p1' })).toMatchObject({
      subject: 'sb.ev.acme.tasks.updates.p1._',
    });
  });

  it('needs the parameters that key the subject', () => {
    expect(resolvePublication('acme', 'projects.updates', {})).toMatchObject({ ok: false });
    expect(resolvePublication('acme', 'notifications', {})).toMatchObject({ ok: false });
  });
});
