export { AdminApi } from './admin.ts';
export { credentialFrom, mountAdminApi, mountPublishApi } from './http.ts';
export { servePublishEndpoint } from './nats-endpoint.ts';
export { EventPublisher, HTTP_STATUS, type PublishOutcome } from './publisher.ts';
export { PublisherSettings } from './config.ts';
