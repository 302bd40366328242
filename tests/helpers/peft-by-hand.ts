/**
 * A PEFT LoRA adapter written byte by byte from the documented formats, sharing no code with
 * src/io (so an import test checks our reader against the formats, not against our writer):
 * - safetensors (huggingface/safetensors README, "Format"): 8 bytes little-endian u64 N, then N
 *   bytes of JSON header `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__" }`
 *   (offsets relative to the byte after the header), then the raw little-endian data;
 * - keys as PEFT's `get_peft_model_state_dict` saves them: `base_model.model.<module name in the
 *   base model>.lora_A.weight` (A [r, in], an nn.Linear(in, r)) and `.lora_B.weight` (B [out, r]);
 * - `adapter_config.json` with every field `LoraConfig.save_pretrained` writes (PEFT 0.13).
 */
export interface HandFactor {
  /** PEFT's module name, e.g. `model.layers.0.self_attn.q_proj` or `transformer.h.0.attn.c_attn`. */
  readonly module: string;
  readonly a: Float32Array;
  readonly aShape: readonly [number, number];
  readonly b: Float32Array;
  readonly bShape: readonly [number, number];
}

/** `adapter_model.safetensors` bytes for `factors`, tensors in key order. */
export function handSafetensors(factors: readonly HandFactor[]): Uint8Array {
  const tensors = factors.flatMap((f) => [
    { key: `base_model.model.${f.module}.lora_A.weight`, data: f.a, shape: f.aShape },
    { key: `base_model.model.${f.module}.lora_B.weight`, data: f.b, shape: f.bShape },
  ]);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.key] = {
      dtype: 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + 4 * t.data.length],
    };
    offset += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' '; // pad with spaces, as the writers do
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors) {
    for (const v of t.data) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return out;
}

/** `adapter_config.json` as PEFT writes it, with `overrides` on top. */
export function handAdapterConfig(
  baseModel: string,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: 16,
    lora_dropout: 0.05,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: 8,
    rank_pattern: {},
    revision: null,
    target_modules: ['q_proj', 'v_proj'],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
    ...overrides,
  };
}
