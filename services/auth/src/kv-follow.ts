import type { KV, KvEntry } from '@nats-io/kv';

/**
 * Feeds every entry of a KV bucket to `onEntry`, then every change, for as long as the
 * connection lives (the watch resumes by itself after a reconnect). Resolves once the
 * values present at the start have been fed. An entry `onEntry` throws on is reported
 * to `onError` and skipped; it never stops the watch.
 */
export async function followBucket(
  kv: KV,
  onEntry: (entry: KvEntry, initial: boolean) => void,
  onError: (error: unknown, key: string) => void,
): Promise<void> {
  const watch = await kv.watch();
  let loadedAll = false;
  let markLoaded!: () => void;
  const loaded = new Promise<void>((resolve) => (markLoaded = resolve));

  void (async () => {
    for await (const entry of watch) {
      try {
        onEntry(entry, !loadedAll);
      } catch (error) {
        onError(error, entry.key);
      }
      if (entry.delta === 0) markLoaded();
    }
  })().catch((error: unknown) => onError(error, '(watch)'));

  // An empty bucket has no entry with delta 0 to mark the end of the initial values.
  if ((await kv.status()).values === 0) markLoaded();
  await loaded;
  loadedAll = true;
}
