import { createRequire } from 'node:module';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/**
 * Returns the free memory of the C heap to the operating system: glibc's `malloc_trim(0)`,
 * which releases the free pages inside the heap as well as at its top. `free` alone only
 * gives back the top, so memory freed between chunks that are still in use (after a wave
 * of connections opened and closed, say) stays resident until the heap is trimmed.
 * Returns whether any memory was released.
 */
export type HeapTrim = () => boolean;

/** Why `loadHeapTrim` could not make a `HeapTrim`. */
export interface NoHeapTrim {
  readonly reason: string;
}

function glibcVersion(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report?.header?.glibcVersionRuntime;
}

/**
 * Finds glibc's `malloc_trim` through koffi, an optional dependency (a foreign function
 * interface with prebuilt binaries). Elsewhere (macOS, musl as on Alpine, a platform koffi
 * has no build for) the reason is returned instead: the C library then keeps what it
 * keeps, which costs memory, never correctness.
 */
export function loadHeapTrim(): HeapTrim | NoHeapTrim {
  loaded ??= findHeapTrim();
  return loaded;
}

let loaded: HeapTrim | NoHeapTrim | undefined;

function findHeapTrim(): HeapTrim | NoHeapTrim {
  const glibc = glibcVersion();
  if (!glibc) return { reason: 'the C library is not glibc' };
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof import('koffi');
    const mallocTrim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
    return () => mallocTrim(0) === 1;
  } catch (error) {
    return { reason: `malloc_trim is not reachable: ${(error as Error).message}` };
  }
}

/**
 * Calls `callback` once, after the next major (mark-compact) collection of V8, and returns
 * a function that cancels the wait.
 */
export type MajorCollectionWatch = (callback: () => void) => () => void;

function isMajorCollection(entry: PerformanceEntry): boolean {
  const { detail } = entry as { detail?: { kind?: number } | null };
  return detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
}

/**
 * A `MajorCollectionWatch` through a `PerformanceObserver` of `gc` entries, which observes
 * only while it waits: the entries of every minor collection cost a little, and a gateway
 * under load has many.
 */
export const afterNextMajorCollection: MajorCollectionWatch = (callback) => {
  const observer = new PerformanceObserver((list) => {
    if (!list.getEntries().some(isMajorCollection)) return;
    observer.disconnect();
    callback();
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
};

/** Why a trim ran. */
export type TrimCause = 'churn' | 'requested' | 'collection';

export interface ChurnTrimmerOptions {
  /**
   * Trims once more after the next major collection that follows a churn trim or a
   * requested one. The buffers a wave of connections used (upgrade requests, frames, bus
   * messages) hold C memory until V8 collects them, and a wave's garbage is often
   * collected by a major collection seconds after the wave: in the benchmark 8-9 MB of
   * the gateway's C heap at 19,000 connections, then free but resident until trimmed.
   */
  readonly afterNextMajorCollection?: MajorCollectionWatch;
  readonly onTrim?: (result: {
    released: boolean;
    ms: number;
    churn: number;
    cause: TrimCause;
  }) => void;
}

/** Ticks after which a trim is due even while connections keep coming and going. */
const MAX_WAIT_TICKS = 60;

/**
 * Trims the C heap after connection churn: once `threshold` connections have opened or
 * closed since the last trim, at the first `tick()` that saw fewer than a tenth of that
 * (so a wave is over), or at the latest `MAX_WAIT_TICKS` ticks after the churn began; and
 * once more after the next major collection (see `ChurnTrimmerOptions`). A trim walks the
 * free chunks with the heap locked (0.5 ms at 19,000 connections on the benchmark
 * machine), so it runs only after churn, never on a fixed timer.
 */
export class ChurnTrimmer {
  #churn = 0;
  #sinceTick = 0;
  #waitedTicks = 0;
  #trims = 0;
  #cancelWatch: (() => void) | undefined;

  constructor(
    private readonly trim: HeapTrim,
    private readonly threshold: number,
    private readonly options: ChurnTrimmerOptions = {},
  ) {}

  /** Counts one connection opened or closed. */
  note(): void {
    this.#churn++;
    this.#sinceTick++;
  }

  /** How many trims have run. */
  get trims(): number {
    return this.#trims;
  }

  /** Whether a trim waits for the next major collection. */
  get awaitingCollection(): boolean {
    return this.#cancelWatch !== undefined;
  }

  tick(): void {
    const recent = this.#sinceTick;
    this.#sinceTick = 0;
    if (this.#churn < this.threshold) return;
    const quiet = recent * 10 < this.threshold;
    if (!quiet && ++this.#waitedTicks < MAX_WAIT_TICKS) return;
    this.#trim('churn');
  }

  /** Trims at once (after start-up, say, which leaves free memory behind too). */
  trimNow(): void {
    this.#trim('requested');
  }

  /** Stops waiting for a collection. */
  close(): void {
    this.#cancelWatch?.();
    this.#cancelWatch = undefined;
  }

  #trim(cause: TrimCause): void {
    const churn = this.#churn;
    // A trim after a collection leaves the churn counted: a wave that began since the last
    // churn trim still gets its own trim when it ends.
    if (cause !== 'collection') {
      this.#churn = 0;
      this.#waitedTicks = 0;
    }
    const started = performance.now();
    const released = this.trim();
    this.#trims++;
    this.options.onTrim?.({ released, ms: performance.now() - started, churn, cause });
    if (cause !== 'collection') this.#watchCollection();
  }

  #watchCollection(): void {
    const watch = this.options.afterNextMajorCollection;
    // One wait covers every trim before the collection it waits for.
    if (!watch || this.#cancelWatch) return;
    this.#cancelWatch = watch(() => {
      this.#cancelWatch = undefined;
      this.#trim('collection');
    });
  }
}
