// One subscriber's event stream: the live feed (subscribed first), then an optional replay of the
// stored events after a given sequence, merged without a gap or a duplicate at the seam; a fixed
// buffer for a subscriber that does not keep up; and an end with a reason (revoked key, expired
// token, slow consumer) that every transport delivers as a GraphQL error before completing.
// No GraphQL imports: the resolvers turn the end marker into an error.

/** Why a stream ended early. Delivered as the error's `extensions.reason`. */
export type EndReason =
  | "CREDENTIALS_REVOKED"
  | "CREDENTIALS_EXPIRED"
  | "SLOW_CONSUMER"
  | "REPLAY_FAILED"
  | "SHUTTING_DOWN";

/** The last item of a stream that ended early. */
export class StreamEnd {
  constructor(
    readonly reason: EndReason,
    readonly message: string,
  ) {}
}

export type StreamOptions<T> = {
  /** The live feed; consumed at once into this stream's buffer. */
  live: AsyncIterable<T>;
  /** Stored events after `after`, oldest first, in pages; omitted when not resuming. */
  replay?: ((after: bigint) => AsyncIterable<T[]>) | undefined;
  after?: bigint | undefined;
  /** The event's place in the one global order (the events table's sequence). */
  sequenceOf(event: T): bigint;
  /** Whether this subscriber may see, and asked for, the event. Runs for live and replayed. */
  accept(event: T): boolean;
  /** Events held for a subscriber that is not reading; one more ends the stream. */
  bufferSize: number;
  /** Called once when the stream ends, whatever the cause (releases watchers). */
  onEnd?: (() => void) | undefined;
  /** Called `forceCloseAfterMs` after the stream overflowed: the transport should close the
   * connection if what it wrote has still not reached the consumer (it is not reading). */
  forceClose?: (() => void) | undefined;
  forceCloseAfterMs?: number;
};

export type EventStream<T> = AsyncIterableIterator<T | StreamEnd> & {
  /** Ends the stream: the consumer receives `StreamEnd` next, then the stream completes. */
  end(reason: EndReason, message: string): void;
  /** Where a stream without `after` started (the newest stored sequence then), unless it has
   * seen an event since: catching up starts there. */
  startAt(sequence: bigint): void;
  /** The live feed may be losing events (the pub/sub connection dropped): hold live events and
   * remember where the gap starts. */
  suspend(): void;
  /** Replays the stored events since the gap (or the last one seen), then releases the held live
   * events: called when the live feed is back. */
  catchUp(): void;
};

export function createEventStream<T>(options: StreamOptions<T>): EventStream<T> {
  const queue: (T | StreamEnd)[] = [];
  let waiter: (() => void) | null = null;
  let finished = false; // no more items will be queued
  let closed = false; // the consumer has finished or returned
  let forceTimer: NodeJS.Timeout | null = null;
  // Resolved when the consumer has made room in the buffer (the replay waits for it).
  let drained: (() => void) | null = null;
  // While replaying, live events wait here; afterwards they pass straight to the queue.
  let held = null as T[] | null;
  // The highest sequence seen (sent or not for this subscriber); null until known.
  let position: bigint | null = options.after ?? null;
  let replaying = false;
  let replayAgain = false;
  // Where the live feed stopped being trustworthy (set by suspend, used by the next catch-up).
  let gapFrom = null as bigint | null;
  // Every event up to `floor` was sent by the replay (or was not for this subscriber): live
  // copies of them are dropped. Ids grow in commit order within a workspace, so once the replay
  // has read an id, every smaller one was committed and read too.
  let floor = options.after ?? -1n;
  const wake = () => {
    const resolve = waiter;
    waiter = null;
    resolve?.();
  };
  const liveIterator = options.live[Symbol.asyncIterator]();

  const stopSources = () => {
    if (finished) return;
    finished = true;
    void liveIterator.return?.()?.catch(() => {});
    options.onEnd?.();
  };

  const end = (reason: EndReason, message: string) => {
    if (finished || closed) return;
    stopSources();
    // Nothing buffered is worth keeping behind an end: the consumer resumes with `after`.
    if (reason === "SLOW_CONSUMER") queue.length = 0;
    queue.push(new StreamEnd(reason, message));
    wake();
    if (reason === "SLOW_CONSUMER" && options.forceClose) {
      forceTimer = setTimeout(() => options.forceClose?.(), options.forceCloseAfterMs ?? 5_000);
      forceTimer.unref();
    }
  };

  const push = (event: T, replayed = false) => {
    if (finished) return;
    const sequence = options.sequenceOf(event);
    if (position === null || sequence > position) position = sequence;
    if (replayed) {
      if (sequence <= floor) return;
      floor = sequence;
    } else if (sequence <= floor) return; // already sent by the replay
    if (!options.accept(event)) return;
    if (queue.length >= options.bufferSize) {
      end(
        "SLOW_CONSUMER",
        `This subscriber fell ${options.bufferSize} events behind and was disconnected; resubscribe with after set to the last event id received.`,
      );
      return;
    }
    queue.push(event);
    wake();
  };

  // The live feed first, so nothing committed during the replay is missed.
  void (async () => {
    try {
      for (;;) {
        const step = await liveIterator.next();
        if (step.done || finished) return;
        if (held) {
          if (held.length >= options.bufferSize) {
            end("SLOW_CONSUMER", "Too many live events arrived while replaying; resubscribe.");
            return;
          }
          held.push(step.value);
        } else push(step.value);
      }
    } catch {
      // The feed ended with an error (pub/sub closed): end quietly; clients resume with `after`.
      stopSources();
      wake();
    }
  })();

  const runReplay = async () => {
    const replay = options.replay;
    if (!replay || replaying || finished) return;
    replaying = true;
    held ??= [];
    try {
      do {
        replayAgain = false;
        const after = gapFrom ?? position ?? -1n;
        gapFrom = null;
        for await (const page of replay(after)) {
          for (const event of page) {
            // The replay goes at the consumer's pace: it never overfills the buffer.
            while (!finished && !closed && queue.length >= options.bufferSize) {
              await new Promise<void>((resolve) => {
                drained = resolve;
              });
            }
            if (finished || closed) return;
            push(event, true);
          }
        }
      } while (replayAgain && !finished);
    } catch {
      end("REPLAY_FAILED", "The stored events could not be read; resubscribe with after.");
      return;
    } finally {
      replaying = false;
    }
    const pending = held ?? [];
    held = null;
    // Sorted: live events from several publishers may arrive slightly out of order.
    pending.sort((a, b) => compare(options.sequenceOf(a), options.sequenceOf(b)));
    for (const event of pending) push(event);
  };
  if (options.after !== undefined) {
    held = [];
    void runReplay();
  }

  const iterator: EventStream<T> = {
    end,
    startAt(sequence) {
      if (position === null) position = sequence;
    },
    suspend() {
      if (finished || position === null) return;
      if (gapFrom === null || position < gapFrom) gapFrom = position;
      held ??= [];
    },
    catchUp() {
      if (finished || (position === null && gapFrom === null)) return;
      if (replaying) replayAgain = true;
      else void runReplay();
    },
    async next() {
      for (;;) {
        if (closed) return { done: true, value: undefined };
        const item = queue.shift();
        if (item !== undefined) {
          if (queue.length < options.bufferSize && drained) {
            const resolve = drained;
            drained = null;
            resolve();
          }
          if (item instanceof StreamEnd) {
            // Deliver the reason, then complete.
            closed = true;
          }
          return { done: false, value: item };
        }
        if (finished) {
          closed = true;
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => {
          waiter = resolve;
        });
      }
    },
    async return() {
      closed = true;
      queue.length = 0;
      stopSources();
      wake();
      drained?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
