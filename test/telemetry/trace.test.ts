import { node, tracing } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AuthClient,
  MemoryRevocations,
  readCredentialsFile,
  startAuthService,
} from '@switchboard/auth';
import { NatsBus } from '@switchboard/bus';
import { startChannelAuthorizer } from '@switchboard/channel-authorizer';
import { Gateway, SocketSettings } from '@switchboard/gateway';
import { EventPublisher, mountPublishApi } from '@switchboard/publisher';
import { loadEnv } from '@switchboard/config';
import { createLogger } from '@switchboard/telemetry';

import { createCredentials, type TestCredentials } from '../harness/credentials.ts';
import { startNats, type NatsServer } from '../harness/nats.ts';
import { connect } from '../harness/ws-client.ts';

/**
 * One trace follows an event from the HTTP publish, over a real NATS hop, to the
 * gateway's fan-out. The services run in this process so the spans can be collected.
 */
describe('tracing', () => {
  const exporter = new tracing.InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({
    spanProcessors: [new tracing.SimpleSpanProcessor(exporter)],
  });
  let nats: NatsServer;
  let buses: NatsBus[] = [];
  let gateway: Gateway;
  let port: number;
  let credentials: TestCredentials;

  beforeAll(async () => {
    provider.register();
    nats = await startNats();
    credentials = await createCredentials();
    const logger = createLogger('test', 'silent');
    const connect = (name: string) => NatsBus.connect({ servers: nats.url, name });
    buses = await Promise.all(['auth', 'authz', 'publisher', 'gateway'].map(connect));
    const [authBus, authzBus, publisherBus, gatewayBus] = buses as [
      NatsBus,
      NatsBus,
      NatsBus,
      NatsBus,
    ];

    await startAuthService(authBus, readCredentialsFile(credentials.path), logger);
    await startChannelAuthorizer(authzBus, logger);
    const settings = loadEnv(SocketSettings, { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' });
    gateway = new Gateway(gatewayBus, settings, logger, { revocations: new MemoryRevocations() });
    const publisher = new EventPublisher(publisherBus, new AuthClient(publisherBus, 2000), logger);
    mountPublishApi(gateway.app, publisher, { maxBodyBytes: 65536, logger });
    port = await gateway.listen();
  });

  afterAll(async () => {
    gateway?.stop();
    await Promise.all(buses.map((bus) => bus.drain()));
    await nats?.stop();
    await credentials?.remove();
    await provider.shutdown();
  });

  it('links the HTTP publish, the auth call and the gateway fan-out in one trace', async () => {
    const client = await connect(`ws://127.0.0.1:${port}/v1/?api_key=${credentials.keys.alice}`);
    await client.next((f) => f.type === 'auth_success');
    client.send({ type: 'subscribe', channel: 'chat.messages', room_id: 'r1', request_id: 's' });
    await client.next((f) => f.type === 'subscription_success');
    exporter.reset();

    const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${credentials.keys.acmeServer}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        channel: 'chat.messages',
        event: 'chat.message',
        room_id: 'r1',
        data: { t: 1 },
      }),
    });
    expect(response.status).toBe(202);
    await client.next((f) => f.type === 'event');
    await client.close();

    const spans = exporter.getFinishedSpans();
    const publish = spans.find((s) => s.name === 'publish');
    const fanout = spans.find((s) => s.name === 'gateway.fanout');
    const auth = spans.find((s) => s.name === 'auth.verify');
    expect(publish).toBeDefined();
    expect(fanout?.spanContext().traceId).toBe(publish?.spanContext().traceId);
    expect(auth?.spanContext().traceId).toBe(publish?.spanContext().traceId);
  });
});
