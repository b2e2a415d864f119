/** Small async helpers of the demo driver: sleeping, a semaphore and a bounded parallel map. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Sleeps until the wall-clock instant `atMs` (epoch milliseconds); returns at once if it has passed. */
export function sleepUntil(atMs: number): Promise<void> {
  return sleep(atMs - Date.now());
}

/** Limits how many tasks run at once; the others wait in arrival order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be a positive integer, got ${limit}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Calls `task` on every item with at most `limit` calls in flight and returns
 * the results in item order. After the first rejection no further call
 * starts, and the rejection is raised once every started call has settled,
 * so no call keeps running unobserved.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const semaphore = new Semaphore(limit);
  let firstError: { reason: unknown } | undefined;
  const settled = await Promise.allSettled(
    items.map((item, index) =>
      semaphore.run(async () => {
        if (firstError) throw firstError.reason;
        try {
          return await task(item, index);
        } catch (err) {
          firstError ??= { reason: err };
          throw err;
        }
      }),
    ),
  );
  if (firstError) throw firstError.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<R>).value);
}

/** A promise with its resolve and reject functions, for signals between concurrent flows. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A signal that no flow awaits must not become an unhandled rejection.
    this.promise.catch(() => undefined);
  }
}
