// The model-FLOPs count behind the benchmarks' MFU (bench/lib/model-suite.ts), against a count
// done by hand for the tiny GQA Llama: 2 layers, C 32, F 48, 4 heads of 8, 2 kv heads, V 48.
import { describe, expect, it } from 'vitest';
import { trainingFlops } from '../../bench/lib/model-suite';
import { tinyModel } from '../helpers/tiny-models';

describe('trainingFlops', () => {
  it('counts frozen projections twice (forward, input gradient), attention, LoRA thrice', () => {
    const { config } = tinyModel('llamaGqa');
    // Per layer q 32·32, k 32·16, v 32·16, o 32·32, gate/up 32·48, down 48·32 = 7,680; ×2 layers,
    // + the unembedding 48·32 = 16,896 frozen weights. B·T = 10 tokens.
    const frozen = 4 * 16_896 * 10;
    const attention = 12 * 2 * 2 * 4 * 5 * 5 * 8; // 12·B·L·H·T²·D
    const lora = 6 * 2 * (32 + 32 + (32 + 16)) * 2 * 10; // rank 2 on q and v in both layers
    const shapes: [number, number][] = [
      [32, 32],
      [32, 16],
      [32, 32],
      [32, 16],
    ];
    expect(trainingFlops(config, 2, shapes, { batch: 2, seq: 5 })).toBe(frozen + attention + lora);
    expect(trainingFlops(config, 2, [], { batch: 2, seq: 5 })).toBe(frozen + attention);
  });
});
