import Type from 'typebox';

import type { Bus } from '@switchboard/bus';
import {
  CreateKeyRequest,
  decoder,
  encodeJson,
  ServiceSubjects,
  type CreateKeyReply,
  type KeyInfo,
  type ListKeysReply,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/telemetry';

import { generateApiKey, hashApiKey, keyIdFromHash } from './api-keys.ts';
import type { ApiKeyRecord, ApiKeyStore, WritableKeyStore } from './key-store.ts';
import type { PlanCatalog } from './plan-catalog.ts';
import type { RevocationStore } from './revocations.ts';

const decodeCreate = decoder(CreateKeyRequest);
const decodeList = decoder(Type.Object({ tenant: Type.String() }));

export interface KeyAdmin {
  /** The config file's keys (listed, never written). */
  readonly file: ApiKeyStore;
  /** Where keys created through the admin API go: KV in distributed mode, memory in standalone. */
  readonly created: WritableKeyStore;
  readonly plans: PlanCatalog;
  readonly revocations: RevocationStore;
}

function info(
  record: ApiKeyRecord,
  source: KeyInfo['source'],
  revocations: RevocationStore,
): KeyInfo {
  const revokedAt = revocations.revokedAt({ kind: 'key', tenant: record.tenant, id: record.id });
  return {
    id: record.id,
    tenant: record.tenant,
    plan: record.plan,
    userId: record.userId,
    appId: record.appId,
    scopes: record.scopes,
    label: record.label,
    expiresAt: record.expiresAt,
    revoked: Boolean(record.revoked) || revokedAt !== undefined,
    source,
  };
}

/**
 * Serves `sb.svc.auth.keys.create` (a new key, shown once in the reply, stored as its
 * hash) and `sb.svc.auth.keys.list` (a tenant's keys, without secrets).
 */
export async function serveKeyAdmin(bus: Bus, admin: KeyAdmin, logger: Logger): Promise<void> {
  await bus.serve(
    { service: 'auth', name: 'create-key', subject: ServiceSubjects.authCreateKey },
    async (message) => {
      const request = decodeCreate(message.data);
      if (Boolean(request.userId) === Boolean(request.appId)) {
        const reply: CreateKeyReply = {
          ok: false,
          code: 'invalid_message_format',
          message: 'Give exactly one of user_id or app_id',
        };
        return encodeJson(reply);
      }
      if (!admin.plans.limitsFor(request.tenant, request.plan)) {
        const reply: CreateKeyReply = {
          ok: false,
          code: 'invalid_message_format',
          message: `Unknown plan: ${request.plan}`,
        };
        return encodeJson(reply);
      }

      const key = generateApiKey();
      const hash = hashApiKey(key);
      const record: ApiKeyRecord = { ...request, hash, id: keyIdFromHash(hash) };
      await admin.created.add(record);
      logger.info(
        { tenant: record.tenant, keyId: record.id, scopes: record.scopes },
        'api key created',
      );
      return encodeJson({
        ok: true,
        key,
        info: info(record, 'admin', admin.revocations),
      } satisfies CreateKeyReply);
    },
  );

  await bus.serve(
    { service: 'auth', name: 'list-keys', subject: ServiceSubjects.authListKeys },
    (message) => {
      const { tenant } = decodeList(message.data);
      const keys = [
        ...admin.file.list(tenant).map((r) => info(r, 'config', admin.revocations)),
        ...admin.created.list(tenant).map((r) => info(r, 'admin', admin.revocations)),
      ];
      return encodeJson({ ok: true, keys } satisfies ListKeysReply);
    },
  );
}
