import Type, { type TObject, type TSchema } from 'typebox';

import { isSafeId, MAX_ID_LENGTH, SAFE_ID_RULE } from './ids.ts';

/** A client-supplied id: exactly one safe NATS subject token. */
export const Id = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$', maxLength: MAX_ID_LENGTH });

/**
 * Where a subscription's value for a parameter comes from. `client`: the subscribe
 * message; `principal`: the authenticated user (the client may repeat it, not change it).
 */
export type ParamSource = 'client' | 'principal';

/** One entry of the channel catalog. */
export interface ChannelDefinition {
  /** Channel name as clients write it; `data.*` matches `data.<resource_type>`. */
  readonly name: string;
  readonly description: string;
  /** Parameters a subscribe or publish may carry, with their schemas. */
  readonly params: TObject<Record<string, TSchema>>;
  /** Parameter names in subject order; each becomes one subject token. */
  readonly subject: readonly string[];
  /** Subscribe needs at least one of these (e.g. comments by project or by task). */
  readonly anyOf?: readonly string[];
  /** Parameters a publish must carry even where a subscribe may leave them out. */
  readonly publishRequires: readonly string[];
  readonly sources?: Readonly<Record<string, ParamSource>>;
}

const optional = Type.Optional(Id);

/** The built-in channel catalog (API v1 plus the chat example). */
export const CHANNELS: readonly ChannelDefinition[] = [
  {
    name: 'users.presence',
    description: 'User online/offline status changes',
    params: Type.Object({ user_id: optional }),
    subject: ['user_id'],
    publishRequires: ['user_id'],
  },
  {
    name: 'projects.updates',
    description: 'Project creation, updates, or deletion',
    params: Type.Object({ project_id: optional }),
    subject: ['project_id'],
    publishRequires: ['project_id'],
  },
  {
    name: 'tasks.updates',
    description: 'Task creation, updates, status changes, or deletion',
    params: Type.Object({ project_id: Id, task_id: optional }),
    subject: ['project_id', 'task_id'],
    publishRequires: ['project_id'],
  },
  {
    name: 'comments.updates',
    description: 'New comments or comment edits',
    params: Type.Object({ project_id: optional, task_id: optional }),
    subject: ['project_id', 'task_id'],
    anyOf: ['project_id', 'task_id'],
    publishRequires: [],
  },
  {
    name: 'files.updates',
    description: 'File uploads, updates, or deletion',
    params: Type.Object({ project_id: Id, file_id: optional }),
    subject: ['project_id', 'file_id'],
    publishRequires: ['project_id'],
  },
  {
    name: 'notifications',
    description: "The authenticated user's own notifications",
    params: Type.Object({ user_id: optional }),
    subject: ['user_id'],
    publishRequires: ['user_id'],
    sources: { user_id: 'principal' },
  },
  {
    name: 'data.*',
    description: 'Real-time data feeds for a resource type',
    params: Type.Object({ resource_id: optional }),
    subject: ['resource_id'],
    publishRequires: [],
  },
  {
    name: 'chat.messages',
    description: 'Messages of one chat room',
    params: Type.Object({ room_id: Id }),
    subject: ['room_id'],
    publishRequires: ['room_id'],
  },
];

const byName = new Map(CHANNELS.map((c) => [c.name, c]));

/** A channel name resolved against the catalog. */
export interface ChannelRef {
  readonly definition: ChannelDefinition;
  /** The channel name split into subject tokens, e.g. `['data', 'orders']`. */
  readonly tokens: readonly string[];
}

export function findChannel(name: string): ChannelRef | undefined {
  const exact = name.includes('*') ? undefined : byName.get(name);
  if (exact) return { definition: exact, tokens: name.split('.') };

  const [head, resourceType, ...rest] = name.split('.');
  if (head !== 'data' || rest.length > 0 || !isSafeId(resourceType)) return undefined;
  return { definition: byName.get('data.*')!, tokens: ['data', resourceType] };
}

/** Required parameters of a channel's schema, for error messages. */
export function requiredParams(definition: ChannelDefinition): readonly string[] {
  return definition.params.required ?? [];
}

export { SAFE_ID_RULE };
