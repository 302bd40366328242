// TensorData.tolist() nests by shape, as numpy's ndarray.tolist() does in the Python SDK
// (`TensorData.tolist()` → `self.to_numpy().tolist()`): shape [2, 3] gives two lists of three,
// a 0-d shape gives the number itself, a zero-length axis gives empty lists.
import { describe, expect, it } from 'vitest';
import { TensorData } from '../../src/index';

describe('TensorData.tolist', () => {
  it('nests by shape', () => {
    const t = new TensorData({ data: [1, 2, 3, 4, 5, 6], dtype: 'float32', shape: [2, 3] });
    expect(t.tolist()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const cube = new TensorData({
      data: [0, 1, 2, 3, 4, 5, 6, 7],
      dtype: 'int64',
      shape: [2, 2, 2],
    });
    expect(cube.tolist()).toEqual([
      [
        [0, 1],
        [2, 3],
      ],
      [
        [4, 5],
        [6, 7],
      ],
    ]);
  });

  it('is flat for 1-D data, a number for a 0-d shape, empty lists on a zero-length axis', () => {
    expect(new TensorData({ data: [7, 8], dtype: 'int64' }).tolist()).toEqual([7, 8]);
    expect(new TensorData({ data: [3.5], dtype: 'float32', shape: [] }).tolist()).toBe(3.5);
    expect(new TensorData({ data: [], dtype: 'float32', shape: [2, 0] }).tolist()).toEqual([
      [],
      [],
    ]);
  });

  it('returns a new list each time (the data stays frozen)', () => {
    const t = new TensorData({ data: [1, 2], dtype: 'float32', shape: [1, 2] });
    const list = t.tolist<number[][]>();
    list[0]![0] = 9;
    expect(t.data[0]).toBe(1);
  });
});
