import type { TemplatedApp } from 'uWebSockets.js';

import type { Bus, BusMessage, BusSubscription } from '@switchboard/bus';
import { eventFrame, eventFramePrefix, isBusEvent } from '@switchboard/protocol';
import { contextFromHeaders, SpanKind, tracer } from '@switchboard/telemetry';

interface Topic {
  /**
   * The uWebSockets.js topic: a short name of our own, so uWebSockets.js stores it
   * inline rather than in a separate allocation (it keeps a copy per topic).
   */
  readonly name: string;
  readonly subscriptionId: string;
  readonly subject: SubjectEntry;
  /** Built on the first event, so idle topics do not hold one. */
  prefix: Buffer | undefined;
  members: number;
}

interface SubjectEntry {
  readonly subscription: BusSubscription;
  /** Set until the bus has registered the subscription; kept if that failed. */
  registered: Promise<void> | undefined;
  /**
   * Topics fed by this subject, one per subscription id; most subjects have one. Replaced,
   * never changed in place, so a socket closed during a delivery cannot make it skip one.
   */
  topics: readonly Topic[];
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
  readonly #topics = new Map<string, Topic>();
  #lastTopic = 0;
  #malformed = 0;
  /** The flush that will cover every subject subscribed since the last one went out. */
  #nextFlush: Promise<void> | undefined;

  /** Frame bytes handed to uWebSockets.js since the last backlog check. */
  #published = 0;

  /**
   * `onPublished` runs once `publishBudget` frame bytes have gone out since the last
   * `resetPublished()`: no socket's backlog can have grown by more than that, so a check
   * then catches slow consumers even when a busy event loop delays the periodic one.
   */
  constructor(
    private readonly app: TemplatedApp,
    private readonly bus: Bus,
    private readonly onMalformed: (subject: string) => void,
    private readonly publishBudget = Infinity,
    private readonly onPublished: () => void = () => undefined,
  ) {}

  resetPublished(): void {
    this.#published = 0;
  }

  /** Counts one more member of the topic for (subject, subscription id); returns its name. */
  acquire(subject: string, subscriptionId: string): string {
    const entry = this.#subjects.get(subject) ?? this.#subscribe(subject);
    let topic = entry.topics.find((known) => known.subscriptionId === subscriptionId);
    if (!topic) {
      const name = `t${(++this.#lastTopic).toString(36)}`;
      topic = { name, subscriptionId, subject: entry, prefix: undefined, members: 0 };
      entry.topics = entry.topics.concat(topic);
      this.#topics.set(name, topic);
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
    const topic = this.#topics.get(topicName);
    if (!topic || --topic.members > 0) return;

    this.#topics.delete(topicName);
    const entry = topic.subject;
    entry.topics = entry.topics.filter((other) => other !== topic);
    if (entry.topics.length > 0) return;
    entry.subscription.unsubscribe();
    this.#subjects.delete(entry.subscription.subject);
  }

  /** The subject a topic of `acquire` listens on. */
  subjectOf(topicName: string): string | undefined {
    return this.#topics.get(topicName)?.subject.subscription.subject;
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
    return { subjects: this.#subjects.size, topics: this.#topics.size, malformed: this.#malformed };
  }

  #subscribe(subject: string): SubjectEntry {
    const subscription = this.bus.subscribe(subject, (message) => this.#deliver(entry, message));
    const entry: SubjectEntry = { subscription, topics: [], registered: undefined };
    const registered = this.#flushSoon();
    entry.registered = registered;
    // Once registered, the entry lets go of the promise; a failure stays for `registered()`.
    registered.then(
      () => (entry.registered = undefined),
      () => undefined,
    );
    this.#subjects.set(subject, entry);
    return entry;
  }

  #deliver({ topics }: SubjectEntry, message: BusMessage): void {
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

    for (const topic of topics) {
      topic.prefix ??= eventFramePrefix(topic.subscriptionId);
      const frame = eventFrame(topic.prefix, message.data);
      this.app.publish(topic.name, frame, false, false);
      this.#published += frame.length;
    }
    span?.end();
    if (this.#published > this.publishBudget) {
      this.#published = 0;
      this.onPublished();
    }
  }
}
