/**
 * Minimal models (one layer, width 2 or 3, two tokens) whose logits are written out in closed form,
 * step by step, with no code shared with the reference or the engine: the fixed points that
 * `transformer-f64.ts` (and through it the engine) is anchored to.
 *
 * Llama family: width 2, one head (D = 2, so RoPE turns the single pair by the position in radians),
 * identity q/k/v/o and lm_head, an MLP of width 1. Qwen2 adds q/k/v biases, Qwen3 q/k norms; a
 * Llama with `attention_bias` and `mlp_bias` has biases on q/k/v/o and on gate/up/down
 * (transformers' LlamaAttention and LlamaMLP: `bias=config.attention_bias`, `bias=config.mlp_bias`).
 * GPT-2: width 3 (LayerNorm over 2 entries would send every vector to ±[1, −1] and hide errors).
 */
import { parseModelConfig, type ModelConfig } from '../../src/model/config';
import type { ReferenceTensor } from './transformer-f64';

export interface HandCase {
  readonly label: string;
  readonly config: ModelConfig;
  readonly weights: Map<string, ReferenceTensor>;
  readonly tokens: number[];
  /** Closed-form logits, row-major [T, V]. */
  readonly logits: number[];
  /** Attention of position 1 on itself; kept away from 0 and 1 so both positions matter. */
  readonly p1: number;
}

type Vec2 = [number, number];
const f64 = (shape: number[], values: number[]): ReferenceTensor => ({
  shape,
  data: Float64Array.from(values),
});
const dot = (a: readonly number[], b: readonly number[]): number =>
  a.reduce((s, x, i) => s + x * b[i]!, 0);

interface LlamaExtras {
  qBias?: Vec2;
  kBias?: Vec2;
  vBias?: Vec2;
  qNorm?: Vec2;
  kNorm?: Vec2;
  /** o_proj bias (Llama/Qwen3 with attention_bias). */
  oBias?: Vec2;
  /** gate/up biases (width 1) and down bias (width 2): Llama with mlp_bias. */
  gateBias?: number;
  upBias?: number;
  downBias?: Vec2;
}

/** The Llama, Qwen2 and Qwen3 cases. */
export function handLlamaCases(): HandCase[] {
  return [
    llamaCase('llama', 'LlamaForCausalLM', {}),
    llamaCase('qwen2 (q/k/v bias)', 'Qwen2ForCausalLM', {
      qBias: [0.1, -0.2],
      kBias: [0.3, 0.05],
      vBias: [-0.4, 0.25],
    }),
    llamaCase('qwen3 (q/k norm before RoPE)', 'Qwen3ForCausalLM', {
      qNorm: [2, 0.5],
      kNorm: [0.5, 3],
    }),
    llamaCase(
      'llama (attention_bias: q/k/v/o biases; mlp_bias: gate/up/down biases)',
      'LlamaForCausalLM',
      {
        qBias: [0.1, -0.2],
        kBias: [0.3, 0.05],
        vBias: [-0.4, 0.25],
        oBias: [0.7, -0.3],
        gateBias: 0.4,
        upBias: -0.6,
        downBias: [0.2, 0.5],
      },
    ),
  ];
}

function llamaCase(label: string, architecture: string, o: LlamaExtras): HandCase {
  const eps = 1e-6;
  const config = parseModelConfig({
    architectures: [architecture],
    hidden_size: 2,
    intermediate_size: 1,
    num_attention_heads: 1,
    num_key_value_heads: 1,
    ...(architecture === 'Qwen3ForCausalLM' ? { head_dim: 2 } : {}),
    num_hidden_layers: 1,
    vocab_size: 2,
    max_position_embeddings: 4,
    rms_norm_eps: eps,
    rope_theta: 10000,
    tie_word_embeddings: false,
    ...(o.oBias ? { attention_bias: true, mlp_bias: true } : {}),
  });
  const I = [1, 0, 0, 1];
  const p = 'model.layers.0';
  const weights = new Map<string, ReferenceTensor>([
    ['model.embed_tokens.weight', f64([2, 2], [3, 4, 1, -2])],
    [`${p}.input_layernorm.weight`, f64([2], [1, 1])],
    [`${p}.post_attention_layernorm.weight`, f64([2], [1, 1])],
    ['model.norm.weight', f64([2], [1, 1])],
    ['lm_head.weight', f64([2, 2], I)],
    [`${p}.mlp.gate_proj.weight`, f64([1, 2], [1, 0])],
    [`${p}.mlp.up_proj.weight`, f64([1, 2], [0, 1])],
    [`${p}.mlp.down_proj.weight`, f64([2, 1], [1, -1])],
  ]);
  for (const proj of ['q', 'k', 'v', 'o']) {
    weights.set(`${p}.self_attn.${proj}_proj.weight`, f64([2, 2], I));
  }
  if (o.qBias) {
    weights.set(`${p}.self_attn.q_proj.bias`, f64([2], o.qBias));
    weights.set(`${p}.self_attn.k_proj.bias`, f64([2], o.kBias ?? [0, 0]));
    weights.set(`${p}.self_attn.v_proj.bias`, f64([2], o.vBias ?? [0, 0]));
  }
  if (o.oBias) weights.set(`${p}.self_attn.o_proj.bias`, f64([2], o.oBias));
  if (o.downBias) {
    weights.set(`${p}.mlp.gate_proj.bias`, f64([1], [o.gateBias ?? 0]));
    weights.set(`${p}.mlp.up_proj.bias`, f64([1], [o.upBias ?? 0]));
    weights.set(`${p}.mlp.down_proj.bias`, f64([2], o.downBias));
  }
  if (config.qkNorm) {
    weights.set(`${p}.self_attn.q_norm.weight`, f64([2], o.qNorm ?? [1, 1]));
    weights.set(`${p}.self_attn.k_norm.weight`, f64([2], o.kNorm ?? [1, 1]));
  }
  return { label, config, weights, tokens: [0, 1], ...llamaClosedForm(eps, o) };
}

/** Logits of the Llama-family case for tokens [0, 1], one step per line. */
function llamaClosedForm(eps: number, o: LlamaExtras): { logits: number[]; p1: number } {
  const rms = (v: Vec2, w: Vec2 = [1, 1]): Vec2 => {
    const s = 1 / Math.sqrt((v[0] ** 2 + v[1] ** 2) / 2 + eps);
    return [v[0] * s * w[0], v[1] * s * w[1]];
  };
  const plus = (a: Vec2, b: Vec2 = [0, 0]): Vec2 => [a[0] + b[0], a[1] + b[1]];
  const scaled = (a: Vec2, c: number): Vec2 => [a[0] * c, a[1] * c];
  // D = 2: one pair (0, 1), inv_freq = θ⁰ = 1, so the angle is the position.
  const rot = (v: Vec2, pos: number): Vec2 => [
    v[0] * Math.cos(pos) - v[1] * Math.sin(pos),
    v[1] * Math.cos(pos) + v[0] * Math.sin(pos),
  ];
  const x: Vec2[] = [
    [3, 4],
    [1, -2],
  ];
  const n = x.map((u) => rms(u)); // n0 = [3, 4]/√12.5 = [0.6√2, 0.8√2]; n1 = [1, −2]/√2.5
  let q = n.map((u) => plus(u, o.qBias)); // q/k/v projections are the identity
  let k = n.map((u) => plus(u, o.kBias));
  const v = n.map((u) => plus(u, o.vBias));
  if (o.qNorm && o.kNorm) {
    q = q.map((u) => rms(u, o.qNorm)); // per-head RMSNorm, then RoPE
    k = k.map((u) => rms(u, o.kNorm));
  }
  q = q.map(rot);
  k = k.map(rot);
  const s0 = dot(q[1]!, k[0]!) / Math.SQRT2; // scale 1/√D
  const s1 = dot(q[1]!, k[1]!) / Math.SQRT2;
  const p1 = 1 / (1 + Math.exp(s0 - s1)); // softmax([s0, s1])[1]
  const attn = [v[0]!, plus(scaled(v[0]!, 1 - p1), scaled(v[1]!, p1))]; // position 0 sees itself only
  const h = x.map((u, t) => plus(plus(u, attn[t]), o.oBias)); // o_proj = identity (+ its bias)
  // MLP: gate = [1, 0] + bg, up = [0, 1] + bu, down = [1, −1]ᵀ + bd
  //   → silu(m0 + bg)·(m1 + bu)·[1, −1] + bd, silu(z) = z/(1 + e^−z).
  const out = h.map((u) => {
    const m = rms(u);
    const g = m[0] + (o.gateBias ?? 0);
    const a = (g / (1 + Math.exp(-g))) * (m[1] + (o.upBias ?? 0));
    return plus(plus(u, [a, -a]), o.downBias);
  });
  return { logits: out.flatMap((u) => rms(u)), p1 }; // final norm, then lm_head = identity
}

/** GPT-2, width 3, one head (D = 3), MLP width 2, tied wte; tokens [0, 1]. */
export function handGpt2Case(): HandCase {
  const eps = 1e-5;
  const config = parseModelConfig({
    architectures: ['GPT2LMHeadModel'],
    n_embd: 3,
    n_head: 1,
    n_layer: 1,
    n_inner: 2,
    n_positions: 2,
    vocab_size: 2,
    layer_norm_epsilon: eps,
  });
  const wte = [
    [1, 3, -1],
    [2, -1, 0.5],
  ];
  const wpe = [
    [0.5, 0, 0.2],
    [0, 0.5, -0.3],
  ];
  // c_attn W [in=3, out=9]: columns 0–2 make Q, 3–5 make K, 6–8 make V.
  const cAttn = [
    [0.5, 0, 0.2, 0.3, -0.2, 0, 1, 0.5, 0],
    [0, 0.4, 0, 0.1, 0.3, -0.2, 0, 1, -0.5],
    [-0.3, 0, 0.5, 0, 0.2, 0.4, 0.5, 0, 1],
  ];
  const cAttnBias = [0.1, -0.1, 0, 0.2, 0, -0.2, 0.3, 0, -0.3];
  const attnProj = [
    [1, 0, 0.5],
    [0, 1, 0],
    [0.2, 0, 1],
  ];
  const attnProjBias = [0, 0.1, -0.1];
  const cFc = [
    [1, -0.5],
    [-0.5, 1],
    [0.3, 0.2],
  ];
  const cFcBias = [0.2, -0.1];
  const mlpProj = [
    [1, -1, 0.5],
    [0.3, 0.2, -1],
  ];
  const mlpProjBias = [0, 0, 0.1];
  const ln1 = { w: [1.5, 1, 0.5], b: [0.1, -0.1, 0] };
  const ln2 = { w: [1, 0.5, 1.5], b: [0, 0.1, 0] };
  const lnF = { w: [1, 0.8, 1.2], b: [0.05, 0, -0.05] };
  const weights = new Map<string, ReferenceTensor>([
    ['wte.weight', f64([2, 3], wte.flat())],
    ['wpe.weight', f64([2, 3], wpe.flat())],
    ['h.0.ln_1.weight', f64([3], ln1.w)],
    ['h.0.ln_1.bias', f64([3], ln1.b)],
    ['h.0.attn.c_attn.weight', f64([3, 9], cAttn.flat())],
    ['h.0.attn.c_attn.bias', f64([9], cAttnBias)],
    ['h.0.attn.c_proj.weight', f64([3, 3], attnProj.flat())],
    ['h.0.attn.c_proj.bias', f64([3], attnProjBias)],
    ['h.0.ln_2.weight', f64([3], ln2.w)],
    ['h.0.ln_2.bias', f64([3], ln2.b)],
    ['h.0.mlp.c_fc.weight', f64([3, 2], cFc.flat())],
    ['h.0.mlp.c_fc.bias', f64([2], cFcBias)],
    ['h.0.mlp.c_proj.weight', f64([2, 3], mlpProj.flat())],
    ['h.0.mlp.c_proj.bias', f64([3], mlpProjBias)],
    ['ln_f.weight', f64([3], lnF.w)],
    ['ln_f.bias', f64([3], lnF.b)],
  ]);

  // LayerNorm with the biased variance over the 3 entries.
  const ln = (v: number[], { w, b }: { w: number[]; b: number[] }): number[] => {
    const mu = (v[0]! + v[1]! + v[2]!) / 3;
    const variance = v.reduce((a, x) => a + (x - mu) ** 2, 0) / 3;
    return v.map((x, c) => ((x - mu) / Math.sqrt(variance + eps)) * w[c]! + b[c]!);
  };
  // Conv1D: y_o = Σ_i v_i·W[i][o] + b_o.
  const conv = (v: number[], W: number[][], b: number[]): number[] =>
    b.map((bo, o) => bo + v.reduce((a, vi, i) => a + vi * W[i]![o]!, 0));
  const gelu = (z: number): number =>
    0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));

  const x = [0, 1].map((t) => wte[t]!.map((e, c) => e + wpe[t]![c]!)); // token t at position t
  const qkv = x.map((v) => conv(ln(v, ln1), cAttn, cAttnBias));
  const q1 = qkv[1]!.slice(0, 3);
  const [k0, k1] = [qkv[0]!.slice(3, 6), qkv[1]!.slice(3, 6)];
  const [v0, v1] = [qkv[0]!.slice(6, 9), qkv[1]!.slice(6, 9)];
  const p1 = 1 / (1 + Math.exp((dot(q1, k0) - dot(q1, k1)) / Math.sqrt(3))); // softmax(·)[1]
  const attn = [v0, v0.map((a, j) => (1 - p1) * a + p1 * v1[j]!)];
  const logits = x.flatMap((v, t) => {
    const h = conv(attn[t]!, attnProj, attnProjBias).map((a, c) => v[c]! + a);
    const m = conv(conv(ln(h, ln2), cFc, cFcBias).map(gelu), mlpProj, mlpProjBias);
    const f = ln(
      h.map((a, c) => a + m[c]!),
      lnF,
    );
    return wte.map((e) => dot(f, e)); // tied: logits = f·wteᵀ
  });
  return { label: 'gpt2', config, weights, tokens: [0, 1], logits, p1 };
}
