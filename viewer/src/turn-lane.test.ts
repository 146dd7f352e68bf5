import { describe, expect, it } from 'vitest';
import { TurnLane } from './turn-lane.js';

describe('TurnLane', () => {
  it('runs steps queued together one per turn of the event loop, letting what else is waiting run between them', async () => {
    const lane = new TurnLane();
    const order: string[] = [];
    // Each step queues other work, as a request arriving meanwhile would be.
    const step = (name: string) => () => {
      order.push(name);
      setImmediate(() => order.push(`other work after ${name}`));
      return name;
    };
    const results = await Promise.all([lane.run(step('a')), lane.run(step('b')), lane.run(step('c'))]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(results).toEqual(['a', 'b', 'c']);
    expect(order).toEqual(['a', 'other work after a', 'b', 'other work after b', 'c', 'other work after c']);
  });

  it('goes on with the next step after one throws', async () => {
    const lane = new TurnLane();
    const failed = lane.run(() => {
      throw new Error('bad body');
    });
    const next = lane.run(() => 'next');
    await expect(failed).rejects.toThrow('bad body');
    await expect(next).resolves.toBe('next');
  });
});
