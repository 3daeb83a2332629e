// The subscriber stream on its own: the replay/live seam, the bounded buffer and ending.
import { Repeater } from "graphql-yoga";
import { describe, expect, it } from "vitest";
import { createEventStream, StreamEnd } from "../../src/modules/subscriptions/stream.js";

type Event = { seq: bigint; workspace: string };

function liveFeed() {
  let push: (event: Event) => void = () => {};
  const feed = new Repeater<Event>(async (next, stop) => {
    push = (event) => void next(event);
    await stop;
  });
  return { feed, publish: (event: Event) => push(event) };
}

const event = (seq: number, workspace = "a"): Event => ({ seq: BigInt(seq), workspace });
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("createEventStream", () => {
  it("replays after the given id, then continues live without a gap or a duplicate", async () => {
    const { feed, publish } = liveFeed();
    let releaseReplay: () => void = () => {};
    const replayGate = new Promise<void>((resolve) => {
      releaseReplay = resolve;
    });
    const stream = createEventStream<Event>({
      live: feed,
      after: 3n,
      async *replay(after) {
        expect(after).toBe(3n);
        await replayGate; // live events 6 and 7 arrive while the table is read
        yield [event(4), event(5), event(6)];
      },
      sequenceOf: (e) => e.seq,
      accept: (e) => e.workspace === "a",
      bufferSize: 100,
    });
    await tick();
    publish(event(6));
    publish(event(7, "b"));
    publish(event(8));
    await tick();
    releaseReplay();
    const seen: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const step = await stream.next();
      seen.push((step.value as Event).seq);
    }
    publish(event(9));
    seen.push(((await stream.next()).value as Event).seq);
    expect(seen).toEqual([4n, 5n, 6n, 8n, 9n]);
    await stream.return?.();
  });

  it("ends a subscriber that stops reading once its buffer is full, dropping what it held", async () => {
    const { feed, publish } = liveFeed();
    let ended = 0;
    const stream = createEventStream<Event>({
      live: feed,
      sequenceOf: (e) => e.seq,
      accept: () => true,
      bufferSize: 10,
      onEnd: () => ended++,
    });
    await tick();
    for (let i = 1; i <= 50; i++) publish(event(i));
    await tick();
    const step = await stream.next();
    expect(step.value).toBeInstanceOf(StreamEnd);
    expect((step.value as StreamEnd).reason).toBe("SLOW_CONSUMER");
    expect((await stream.next()).done).toBe(true);
    expect(ended).toBe(1);
  });

  it("delivers an end reason after what was already queued, then completes", async () => {
    const { feed, publish } = liveFeed();
    const stream = createEventStream<Event>({
      live: feed,
      sequenceOf: (e) => e.seq,
      accept: () => true,
      bufferSize: 10,
    });
    await tick();
    publish(event(1));
    await tick();
    stream.end("CREDENTIALS_REVOKED", "revoked");
    publish(event(2));
    expect(((await stream.next()).value as Event).seq).toBe(1n);
    expect(((await stream.next()).value as StreamEnd).reason).toBe("CREDENTIALS_REVOKED");
    expect((await stream.next()).done).toBe(true);
  });
});

describe("catching up after the live feed lost events", () => {
  it("replays from the last event seen, then continues live without duplicates", async () => {
    const { feed, publish } = liveFeed();
    const stored = [1, 2, 3, 4, 5, 6].map((n) => event(n));
    const stream = createEventStream<Event>({
      live: feed,
      async *replay(after) {
        yield stored.filter((e) => e.seq > after);
      },
      sequenceOf: (e) => e.seq,
      accept: () => true,
      bufferSize: 100,
    });
    await tick();
    stream.startAt(0n);
    publish(event(1));
    publish(event(2));
    await tick();
    stream.suspend();
    // 3, 4 and 5 were committed while the feed was down; 6 arrives live as soon as it is back,
    // before the catch-up starts.
    publish(event(6));
    await tick();
    stream.catchUp();
    await tick();
    const seen: bigint[] = [];
    for (let i = 0; i < 6; i++) seen.push(((await stream.next()).value as Event).seq);
    expect(seen).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    publish(event(7));
    expect(((await stream.next()).value as Event).seq).toBe(7n);
    await stream.return?.();
  });
});
