// The in-memory file cache keeps its own copy of what it is given, whatever kind of view that is.
import { describe, expect, it } from 'vitest';
import { MemoryFileCache } from '../../src/io/file-cache';

describe('MemoryFileCache', () => {
  it('copies a Node Buffer view on the way in (its slice() would share memory)', async () => {
    const file = Buffer.from([1, 2, 3, 4, 5, 6]);
    const view = file.subarray(2, 5); // a Buffer sharing file's memory
    const cache = new MemoryFileCache();
    await cache.put('k', view);
    file.fill(0);
    expect(Array.from((await cache.get('k'))!)).toEqual([3, 4, 5]);
  });
});
