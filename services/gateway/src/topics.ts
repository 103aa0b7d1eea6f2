import type { TemplatedApp } from 'uWebSockets.js';

import type { Bus, BusMessage, BusSubscription } from '@switchboard/bus';
import { eventFrame, eventFramePrefix, isBusEvent } from '@switchboard/protocol';
import { contextFromHeaders, SpanKind, tracer } from '@switchboard/telemetry';

/**
 * A topic sockets join: the events of one subject, framed for one subscription id. Made
 * by `TopicRegistry.acquire` and handed back to its `release`; sockets join it by name.
 */
export class Topic {
  /** Built on the first event, so idle topics do not hold one. */
  prefix: Buffer | undefined = undefined;
  members = 0;

  constructor(
    /**
     * The uWebSockets.js topic: a short name of our own, so uWebSockets.js stores it
     * inline rather than in a separate allocation (it keeps a copy per topic).
     */
    readonly name: string,
    readonly subscriptionId: string,
    readonly subject: SubjectEntry,
  ) {}
}

/** The topics of a subject: most subjects feed one, kept without an array of its own. */
type Topics = Topic | readonly Topic[];

interface SubjectEntry {
  readonly subscription: BusSubscription;
  /** Set until the bus has registered the subscription; kept if that failed. */
  registered: Promise<void> | undefined;
  /**
   * Topics fed by this subject, one per subscription id. Replaced, never changed in
   * place, so a socket closed during a delivery cannot make it skip one.
   */
  topics: Topics;
}

function findTopic(topics: Topics, subscriptionId: string): Topic | undefined {
  if (topics instanceof Topic) return topics.subscriptionId === subscriptionId ? topics : undefined;
  return topics.find((topic) => topic.subscriptionId === subscriptionId);
}

function withTopic(topics: Topics, topic: Topic): Topics {
  if (topics instanceof Topic) return [topics, topic];
  return topics.length === 0 ? topic : topics.concat(topic);
}

function withoutTopic(topics: Topics, topic: Topic): Topics {
  if (topics instanceof Topic) return topics === topic ? [] : topics;
  const index = topics.indexOf(topic);
  if (index < 0) return topics;
  // `toSpliced` makes an exactly sized array, where `filter` leaves room for 16 more.
  const rest = topics.toSpliced(index, 1);
  return rest.length === 1 ? rest[0]! : rest;
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
  #topicCount = 0;
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

  /** Counts one more member of the topic for (subject, subscription id). */
  acquire(subject: string, subscriptionId: string): Topic {
    const entry = this.#subjects.get(subject) ?? this.#subscribe(subject);
    let topic = findTopic(entry.topics, subscriptionId);
    if (!topic) {
      topic = new Topic(`t${(++this.#lastTopic).toString(36)}`, subscriptionId, entry);
      entry.topics = withTopic(entry.topics, topic);
      this.#topicCount++;
    }
    topic.members++;
    return topic;
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
  release(topic: Topic): void {
    if (topic.members <= 0 || --topic.members > 0) return;

    this.#topicCount--;
    const entry = topic.subject;
    entry.topics = withoutTopic(entry.topics, topic);
    if (entry.topics instanceof Topic || entry.topics.length > 0) return;
    entry.subscription.unsubscribe();
    this.#subjects.delete(entry.subscription.subject);
  }

  /** The subject a topic of `acquire` listens on. */
  subjectOf(topic: Topic): string {
    return topic.subject.subscription.subject;
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
    return { subjects: this.#subjects.size, topics: this.#topicCount, malformed: this.#malformed };
  }

  #subscribe(subject: string): SubjectEntry {
    const subscription = this.bus.subscribe(subject, this.#onMessage);
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

  /** Shared by every subject, so a subject holds no closure of its own. */
  readonly #onMessage = (message: BusMessage, subscription: BusSubscription): void => {
    const entry = this.#subjects.get(subscription.subject);
    if (entry?.subscription === subscription) this.#deliver(entry, message);
  };

  #deliver(entry: SubjectEntry, message: BusMessage): void {
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

    const { topics } = entry;
    if (topics instanceof Topic) this.#publish(topics, message.data);
    else for (const topic of topics) this.#publish(topic, message.data);
    span?.end();
    if (this.#published > this.publishBudget) {
      this.#published = 0;
      this.onPublished();
    }
  }

  #publish(topic: Topic, data: Uint8Array): void {
    topic.prefix ??= eventFramePrefix(topic.subscriptionId);
    const frame = eventFrame(topic.prefix, data);
    this.app.publish(topic.name, frame, false, false);
    this.#published += frame.length;
  }
}
