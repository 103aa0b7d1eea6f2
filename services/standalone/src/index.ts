export {
  createDemoCredentials,
  demoBanner,
  type DemoCredentials,
  type DemoEndpoints,
} from './demo.ts';
