import type { TemplatedApp } from 'uWebSockets.js';

import type { Bus, BusMessage, BusSubscription } from '@switchboard/bus';
import { eventFrame, eventFramePrefix, isBusEvent } from '@switchboard/protocol';
import { contextFromHeaders, SpanKind, tracer } from '@switchboard/telemetry';

interface Topic {
  readonly name: string;
  readonly prefix: Buffer;
  members: number;
}

interface SubjectEntry {
  readonly subscription: BusSubscription;
  /** Settles when the bus has registered the subscription. */
  readonly registered: Promise<void>;
  /** Topics fed by this subject, one per subscription id. */
  readonly topics: Map<string, Topic>;
}

export interface TopicStats {
  readonly subjects: number;
  readonly topics: number;
  readonly malformed: number;
}

/**
 * The gateway's fan-out: one bus subscription per distinct subject, shared by every
 * local socket and counted; one frame per incoming message and subscription id,
 * handed to uWebSockets.js topic publishing, so the JavaScript work per event does
 * not grow with the number of subscribers.
 */
export class TopicRegistry {
  readonly #subjects = new Map<string, SubjectEntry>();
  #malformed = 0;
  /** The flush that will cover every subject subscribed since the last one went out. */
  #nextFlush: Promise<void> | undefined;

  constructor(
    private readonly app: TemplatedApp,
    private readonly bus: Bus,
    private readonly onMalformed: (subject: string) => void,
  ) {}

  /** Counts one more member of the topic for (subject, subscription id); returns its name. */
  acquire(subject: string, subscriptionId: string): string {
    let entry = this.#subjects.get(subject);
    if (!entry) {
      const topics = new Map<string, Topic>();
      const subscription = this.bus.subscribe(subject, (message) => this.#deliver(topics, message));
      entry = { subscription, topics, registered: this.#flushSoon() };
      // Awaited by `registered()`; this handler only keeps an early failure from going unhandled.
      entry.registered.catch(() => undefined);
      this.#subjects.set(subject, entry);
    }

    let topic = entry.topics.get(subscriptionId);
    if (!topic) {
      topic = {
        name: `${subscriptionId} ${subject}`,
        prefix: eventFramePrefix(subscriptionId),
        members: 0,
      };
      entry.topics.set(subscriptionId, topic);
    }
    topic.members++;
    return topic.name;
  }

  /**
   * Resolves when the bus has registered the subscriptions of these subjects, so an
   * event published after a `subscription_success` is never missed.
   */
  async registered(subjects: readonly string[]): Promise<void> {
    const pending = subjects.flatMap((subject) => this.#subjects.get(subject)?.registered ?? []);
    await Promise.all(pending);
  }

  /** Counts one member less; the bus subscription goes when its last member does. */
  release(topicName: string): void {
    const split = topicName.indexOf(' ');
    const subscriptionId = topicName.slice(0, split);
    const subject = topicName.slice(split + 1);
    const entry = this.#subjects.get(subject);
    const topic = entry?.topics.get(subscriptionId);
    if (!entry || !topic) return;

    if (--topic.members > 0) return;
    entry.topics.delete(subscriptionId);
    if (entry.topics.size > 0) return;
    entry.subscription.unsubscribe();
    this.#subjects.delete(subject);
  }

  /**
   * One bus flush for all the subjects subscribed in this turn of the event loop (a
   * connect storm subscribes many sockets per turn): NATS answers a PING only after
   * every SUB sent before it, so one round trip registers them all.
   */
  #flushSoon(): Promise<void> {
    this.#nextFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.#nextFlush = undefined;
      return this.bus.flush();
    });
    return this.#nextFlush;
  }

  stats(): TopicStats {
    let topics = 0;
    for (const entry of this.#subjects.values()) topics += entry.topics.size;
    return { subjects: this.#subjects.size, topics, malformed: this.#malformed };
  }

  #deliver(topics: Map<string, Topic>, message: BusMessage): void {
    if (!isBusEvent(message.data)) {
      this.#malformed++;
      return this.onMalformed(message.subject);
    }
    const span = message.headers?.traceparent
      ? tracer().startSpan(
          'gateway.fanout',
          { kind: SpanKind.CONSUMER, attributes: { subject: message.subject } },
          contextFromHeaders(message.headers),
        )
      : undefined;

    for (const topic of topics.values()) {
      this.app.publish(topic.name, eventFrame(topic.prefix, message.data), false, false);
    }
    span?.end();
  }
}
