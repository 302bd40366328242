// Which projections carry a bias, as transformers builds the modules (the names a checkpoint must
// hold and the model adds):
//   LlamaAttention  q/k/v/o_proj: bias=config.attention_bias;  LlamaMLP gate/up/down: bias=config.mlp_bias
//   Qwen2Attention  q/k/v_proj: bias=True, o_proj: bias=False;  Qwen2MLP: bias=False
//   Qwen3Attention  q/k/v/o_proj: bias=config.attention_bias;   Qwen3MLP: bias=False
//   MistralAttention / MistralMLP: bias=False
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/model/config';
import { expectedTensors } from '../../src/model/weight-names';

const base = {
  hidden_size: 8,
  intermediate_size: 12,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  num_hidden_layers: 1,
  vocab_size: 16,
};

function biases(json: object): string[] {
  return expectedTensors(parseModelConfig({ ...base, ...json }))
    .filter((t) => t.name.endsWith('_proj.bias'))
    .map((t) => `${t.name.replace('model.layers.0.', '')} [${t.shape.join(', ')}]`);
}

const ATTN = [
  'self_attn.q_proj.bias [8]',
  'self_attn.k_proj.bias [4]',
  'self_attn.v_proj.bias [4]',
];
const O = ['self_attn.o_proj.bias [8]'];
const MLP = ['mlp.gate_proj.bias [12]', 'mlp.up_proj.bias [12]', 'mlp.down_proj.bias [8]'];

describe('projection biases per family and config flag', () => {
  it('Llama: attention_bias on q/k/v/o, mlp_bias on gate/up/down', () => {
    const llama = { architectures: ['LlamaForCausalLM'] };
    expect(biases(llama)).toEqual([]);
    expect(biases({ ...llama, attention_bias: true })).toEqual([...ATTN, ...O]);
    expect(biases({ ...llama, mlp_bias: true })).toEqual(MLP);
    expect(biases({ ...llama, attention_bias: true, mlp_bias: true })).toEqual([
      ...ATTN,
      ...O,
      ...MLP,
    ]);
  });

  it('Qwen2: q/k/v always, never o_proj or the MLP', () => {
    const qwen2 = { architectures: ['Qwen2ForCausalLM'] };
    expect(biases(qwen2)).toEqual(ATTN);
    expect(biases({ ...qwen2, attention_bias: true, mlp_bias: true })).toEqual(ATTN);
  });

  it('Qwen3: attention_bias on q/k/v/o; the MLP never', () => {
    const qwen3 = { architectures: ['Qwen3ForCausalLM'], head_dim: 4 };
    expect(biases(qwen3)).toEqual([]);
    expect(biases({ ...qwen3, attention_bias: true, mlp_bias: true })).toEqual([...ATTN, ...O]);
  });

  it('Mistral: no projection biases', () => {
    const mistral = { architectures: ['MistralForCausalLM'], attention_bias: true, mlp_bias: true };
    expect(biases(mistral)).toEqual([]);
  });
});
