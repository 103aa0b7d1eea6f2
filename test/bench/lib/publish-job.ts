/** One open-loop publishing run, as the runner hands it to the publisher process. */
export interface PublishJob {
  /** `nats`: pre-encoded events straight to the event subject; the others go through Switchboard's publisher. */
  readonly mode: 'nats' | 'http' | 'nats-request';
  readonly natsUrl: string;
  /** Event subjects are `subjectPrefix + room`. */
  readonly subjectPrefix: string;
  readonly httpUrl?: string;
  readonly apiKey?: string;
  readonly rooms: readonly string[];
  /** Messages per second across all rooms; room i gets every i-th message. */
  readonly rate: number;
  readonly durationS: number;
  /** Sequence numbers continue per room across runs so probes can check order. */
  readonly seqStart: readonly number[];
  readonly padBytes: number;
  /** Most requests in flight for the HTTP and request modes. */
  readonly concurrency: number;
}

/** What a publishing run did. Times are microseconds. */
export interface PublishResult {
  readonly sent: number;
  readonly perRoom: readonly number[];
  readonly errors: number;
  readonly firstError?: string;
  readonly durationS: number;
  /** Sent messages per second over the run. */
  readonly achievedRate: number;
  /** How late the publisher itself sent, versus the intended times. */
  readonly lag: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Request round trips from the intended send time (HTTP and request modes). */
  readonly response?: Percentiles;
  /** HTTP only: round trips from the moment the request was written, the client's lateness left out. */
  readonly service?: Percentiles;
}

/** Microseconds. */
export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}
