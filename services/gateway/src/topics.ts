import type { TemplatedApp } from 'uWebSockets.js';

import type { Bus, BusMessage, BusSubscription } from '@switchboard/bus';
import {
  eventFrame,
  eventFramePrefix,
  isBusEvent,
  type SubscribeItem,
} from '@switchboard/protocol';
import { contextFromHeaders, SpanKind, tracer } from '@switchboard/telemetry';

import type { Socket } from './context.ts';

/** What uWebSockets.js's `send` returns when it dropped the frame for the backlog limit. */
const SEND_DROPPED = 2;

/**
 * A topic sockets join: the events of one subject, framed for one subscription id. Made
 * by `TopicRegistry.join` and left with its `leave` (or `release`, once the socket closed).
 *
 * It also keeps the channel and parameters its first member subscribed with, so that the
 * connections holding it with the same ones share those, and a subscription that has just
 * this one topic (and no delegate resources) can be held as the topic itself: `id`,
 * `topics` and `dependsOn` make it a `HeldSubscription` (see `holding` in connection.ts).
 */
export class Topic {
  /** Built on the first event, so idle topics do not hold one. */
  prefix: Buffer | undefined = undefined;
  members = 0;
  /**
   * The socket of a topic that has had one member only. Its events go to it with `send`
   * rather than through a uWebSockets.js topic, whose membership costs some 360 bytes of
   * native memory per socket, and most topics are one user's own (see docs/performance.md).
   * Cleared when a second member joins: from then on every member is in the
   * uWebSockets.js topic of `name`, until the last one leaves.
   */
  solo: Socket | undefined = undefined;

  constructor(
    /** Makes the name; a small integer, where a name string would cost 24 bytes a topic. */
    readonly serial: number,
    readonly subscriptionId: string,
    /** The bus subscription of the topic's subject, shared by its topics. */
    readonly subscription: BusSubscription,
    readonly channel: string,
    readonly params: Readonly<Record<string, string>>,
  ) {}

  /**
   * The uWebSockets.js topic: a short name of our own, so uWebSockets.js stores it
   * inline rather than in a separate allocation (it keeps a copy per topic).
   */
  get name(): string {
    return `t${this.serial.toString(36)}`;
  }

  get id(): string {
    return this.subscriptionId;
  }

  get topics(): Topic {
    return this;
  }

  get dependsOn(): undefined {
    return undefined;
  }
}

/**
 * The topics of a subject, one per subscription id: most subjects feed one, kept without
 * an array of its own. Replaced, never changed in place, so a socket closed during a
 * delivery cannot make it skip one.
 */
type Topics = Topic | readonly Topic[];

function findTopic(topics: Topics, subscriptionId: string): Topic | undefined {
  if (topics instanceof Topic) return topics.subscriptionId === subscriptionId ? topics : undefined;
  return topics.find((topic) => topic.subscriptionId === subscriptionId);
}

/** The subject's bus subscription, from any of its topics. */
function subscriptionOf(topics: Topics): BusSubscription | undefined {
  return topics instanceof Topic ? topics.subscription : topics[0]?.subscription;
}

function withTopic(topics: Topics | undefined, topic: Topic): Topics {
  if (topics === undefined) return topic;
  if (topics instanceof Topic) return [topics, topic];
  return topics.concat(topic);
}

/** What is left of `topics` without `topic`; undefined when nothing. */
function withoutTopic(topics: Topics, topic: Topic): Topics | undefined {
  if (topics instanceof Topic) return topics === topic ? undefined : topics;
  const index = topics.indexOf(topic);
  if (index < 0) return topics;
  // `toSpliced` makes an exactly sized array, where `filter` leaves room for 16 more.
  const rest = topics.toSpliced(index, 1);
  return rest.length === 1 ? rest[0]! : rest;
}

export interface TopicRegistryOptions {
  /** Called with the subject of a bus message that is not an event; it is dropped. */
  readonly onMalformed: (subject: string) => void;
  /**
   * `onPublished` runs once `publishBudget` frame bytes have gone out since the last
   * `resetPublished()`: no socket's backlog can have grown by more than that, so a check
   * then catches slow consumers even when a busy event loop delays the periodic one.
   */
  readonly publishBudget?: number;
  readonly onPublished?: () => void;
  /**
   * Called with a topic's only member when uWebSockets.js dropped an event for it because
   * its backlog passed the socket's limit; it must end the socket, so no gap goes unseen.
   */
  readonly onDropped: (ws: Socket) => void;
}

export interface TopicStats {
  readonly subjects: number;
  readonly topics: number;
  readonly malformed: number;
}

/**
 * The gateway's fan-out: one bus subscription per distinct subject, shared by every
 * local socket and counted; one frame per incoming message and subscription id,
 * handed to uWebSockets.js topic publishing (or sent to a topic's only socket), so the
 * JavaScript work per event does not grow with the number of subscribers.
 */
export class TopicRegistry {
  /** The topics of each subject subscribed; their bus subscription is the subject's. */
  readonly #subjects = new Map<string, Topics>();
  /**
   * Subjects whose bus subscription is not registered yet, with the flush that registers
   * it; one that failed stays until its subject goes, for `registered()`.
   */
  readonly #registering = new Map<string, Promise<void>>();
  #topicCount = 0;
  #lastTopic = 0;
  #malformed = 0;
  /** The flush that will cover every subject subscribed since the last one went out. */
  #nextFlush: Promise<void> | undefined;

  /** Frame bytes handed to uWebSockets.js since the last backlog check. */
  #published = 0;
  readonly #publishBudget: number;

  constructor(
    private readonly app: TemplatedApp,
    private readonly bus: Bus,
    private readonly options: TopicRegistryOptions,
  ) {
    this.#publishBudget = options.publishBudget ?? Infinity;
  }

  /** Frame bytes handed to uWebSockets.js since the last `resetPublished()`. */
  get published(): number {
    return this.#published;
  }

  resetPublished(): void {
    this.#published = 0;
  }

  /**
   * Adds `ws` to the topic for (subject, subscription id), which it must not be in yet; a
   * new topic keeps `item`, which its members should not change afterwards.
   */
  join(ws: Socket, subject: string, subscriptionId: string, item: SubscribeItem): Topic {
    const topic = this.#acquire(subject, subscriptionId, item);
    if (topic.members === 1) {
      topic.solo = ws;
      return topic;
    }
    if (topic.solo) {
      topic.solo.subscribe(topic.name);
      topic.solo = undefined;
    }
    ws.subscribe(topic.name);
    return topic;
  }

  /** Takes `ws`, which is open, out of a topic it joined. */
  leave(ws: Socket, topic: Topic): void {
    if (topic.solo === ws) topic.solo = undefined;
    else ws.unsubscribe(topic.name);
    this.release(topic);
  }

  /** Counts one more member of the topic for (subject, subscription id). */
  #acquire(subject: string, subscriptionId: string, item: SubscribeItem): Topic {
    const topics = this.#subjects.get(subject);
    let topic = topics && findTopic(topics, subscriptionId);
    if (!topic) {
      const subscription = (topics && subscriptionOf(topics)) ?? this.#subscribe(subject);
      const serial = ++this.#lastTopic;
      topic = new Topic(serial, subscriptionId, subscription, item.channel, item.params);
      this.#subjects.set(subject, withTopic(topics, topic));
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
    const pending = subjects.flatMap((subject) => this.#registering.get(subject) ?? []);
    await Promise.all(pending);
  }

  /**
   * Counts one member less, for a socket that closed (uWebSockets.js has dropped its
   * memberships already); the bus subscription goes when the last member does.
   */
  release(topic: Topic): void {
    if (topic.members <= 0 || --topic.members > 0) return;

    topic.solo = undefined;
    this.#topicCount--;
    const { subject } = topic.subscription;
    const topics = this.#subjects.get(subject);
    const rest = topics && withoutTopic(topics, topic);
    if (rest) return void this.#subjects.set(subject, rest);
    topic.subscription.unsubscribe();
    this.#subjects.delete(subject);
    this.#registering.delete(subject);
  }

  /** The subject a topic of `acquire` listens on. */
  subjectOf(topic: Topic): string {
    return topic.subscription.subject;
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

  #subscribe(subject: string): BusSubscription {
    const subscription = this.bus.subscribe(subject, this.#onMessage);
    const registered = this.#flushSoon();
    this.#registering.set(subject, registered);
    // Once registered, the subject lets go of the promise; a failure stays for `registered()`.
    registered.then(
      () => {
        if (this.#registering.get(subject) === registered) this.#registering.delete(subject);
      },
      () => undefined,
    );
    return subscription;
  }

  /** Shared by every subject, so a subject holds no closure of its own. */
  readonly #onMessage = (message: BusMessage, subscription: BusSubscription): void => {
    const topics = this.#subjects.get(subscription.subject);
    if (topics && subscriptionOf(topics) === subscription) this.#deliver(topics, message);
  };

  #deliver(topics: Topics, message: BusMessage): void {
    if (!isBusEvent(message.data)) {
      this.#malformed++;
      return this.options.onMalformed(message.subject);
    }
    const span = message.headers?.traceparent
      ? tracer().startSpan(
          'gateway.fanout',
          { kind: SpanKind.CONSUMER, attributes: { subject: message.subject } },
          contextFromHeaders(message.headers),
        )
      : undefined;

    if (topics instanceof Topic) this.#publish(topics, message.data);
    else for (const topic of topics) this.#publish(topic, message.data);
    span?.end();
    if (this.#published > this.#publishBudget) {
      this.#published = 0;
      this.options.onPublished?.();
    }
  }

  #publish(topic: Topic, data: Uint8Array): void {
    topic.prefix ??= eventFramePrefix(topic.subscriptionId);
    const frame = eventFrame(topic.prefix, data);
    this.#published += frame.length;
    const { solo } = topic;
    if (!solo) this.app.publish(topic.name, frame, false, false);
    else if (solo.send(frame, false, false) === SEND_DROPPED) this.options.onDropped(solo);
  }
}
