export { ConfigError, envTable, loadEnv, Setting } from './env.ts';
