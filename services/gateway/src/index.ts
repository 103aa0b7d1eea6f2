export { GatewaySettings, SocketSettings } from './config.ts';
export { Gateway, type GatewayOptions } from './gateway.ts';
