export { GatewaySettings, SocketSettings } from './config.ts';
export { Gateway } from './gateway.ts';
