export { AuthorizerClient, AuthorizerUnavailableError } from './client.ts';
export { ChannelAuthorizer } from './authorizer.ts';
export { AuthorizerSettings } from './config.ts';
export { KvLedger } from './kv-ledger.ts';
export { MemoryLedger, type ConnectionLedger } from './ledger.ts';
export { LimitsClient, LimitsUnavailableError } from './limits-client.ts';
export { serveConnectionLimits } from './limits-service.ts';
export { tenantWidePolicy, type Decision, type SubscribePolicy } from './policy.ts';
export { startChannelAuthorizer } from './service.ts';
