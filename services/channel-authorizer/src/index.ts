export { AuthorizerClient, AuthorizerUnavailableError } from './client.ts';
export { ChannelAuthorizer } from './authorizer.ts';
export { tenantWidePolicy, type Decision, type SubscribePolicy } from './policy.ts';
export { startChannelAuthorizer } from './service.ts';
