export { AuthorizerClient, AuthorizerUnavailableError } from './client.ts';
export { ChannelAuthorizer, MAX_GRANT_SUBJECTS } from './authorizer.ts';
export { AuthorizerSettings } from './config.ts';
export { DelegateClient, DELEGATE_DEFAULTS, type DelegateAnswer } from './delegates.ts';
export { KvLedger } from './kv-ledger.ts';
export { MemoryLedger, type ConnectionLedger } from './ledger.ts';
export { LimitsClient, LimitsUnavailableError } from './limits-client.ts';
export { serveConnectionLimits } from './limits-service.ts';
export { decide, type Decision } from './policy.ts';
export {
  followPermissionChanges,
  startChannelAuthorizer,
  type ChannelAuthorizerOptions,
} from './service.ts';
