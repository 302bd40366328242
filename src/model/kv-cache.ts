/**
 * Keys and values of past positions, per layer, for incremental decoding; `attend` appends a
 * step's keys/values and attends its queries over every cached position.
 *
 * Stock path (wasm, cpu, webgpu with our kernels off): each step concatenates the new positions
 * (an O(S) copy per token), and `tile` makes `n` copies of a prefilled prompt so samples decode
 * as one batch.
 *
 * Device path (webgpu with our kernels): each layer's keys and values live in buffers
 * preallocated for `capacity` positions ([B, K, cap, D]), and a kernel writes each step's rows in
 * place (kernels/kv-cache-write.ts); the fused attention kernel reads only the filled prefix. A
 * cache that outgrows its capacity doubles it (one copy, so O(1) per token amortised; none when
 * the capacity covers prompt + max_tokens). `tile(n)` shares the prompt's prefill among the n
 * samples without copying it: the kernel reads positions < prompt length from the single prefill
 * row (batch stride 0) and later positions from each sample's own buffer.
 *
 * The cache owns its tensors; `dispose` frees them.
 */
import * as tf from '@tensorflow/tfjs';
import { emptyTensor } from '../runtime/webgpu/backend-internals';
import { attentionForwardRegions } from '../runtime/webgpu/kernels/attention-forward';
import type { KvRegions, QView } from '../runtime/webgpu/kernels/attention-operands';
import { dimsOf, type HeadLayout } from '../runtime/webgpu/kernels/attention-wgsl';
import {
  appendKvCacheRope,
  writeKvCache,
  writeKvCachePacked,
} from '../runtime/webgpu/kernels/kv-cache-write';
import { gpuKernelsActive } from '../runtime/webgpu-kernels';
import { attend, splitHeads } from './attention';
import { applyRope, type RopeTables } from './rope';

export interface LayerKv {
  /** [B, K, S, D] */
  k: tf.Tensor4D;
  /** [B, K, S, D] */
  v: tf.Tensor4D;
}

export interface KvCacheOptions {
  /**
   * Positions a layer preallocates on the device path (prompt + max new tokens when known);
   * default: the first call's length + `DEFAULT_ROOM`.
   */
  readonly capacity?: number;
}

/** Room left after the first call when no capacity is given. */
export const DEFAULT_ROOM = 64;

/** One layer's cache on the device. */
interface DeviceLayer {
  /** [Ba, K, capA, D]: every position of an untiled cache; a tiled cache's shared prompt (Ba 1). */
  kA: tf.Tensor4D;
  vA: tf.Tensor4D;
  /** [B, K, capB, D]: a tiled cache's positions from `prefix` on, per sample; null untiled. */
  kB: tf.Tensor4D | null;
  vB: tf.Tensor4D | null;
  /** Positions held in A for all samples (tiled); 0 untiled. */
  prefix: number;
  /** Positions cached. */
  filled: number;
}

export class KvCache {
  private readonly stock: (LayerKv | null)[];
  private readonly device: (DeviceLayer | null)[];

  constructor(
    readonly numLayers: number,
    private readonly options: KvCacheOptions = {},
  ) {
    this.stock = new Array<LayerKv | null>(numLayers).fill(null);
    this.device = new Array<DeviceLayer | null>(numLayers).fill(null);
  }

  /** Positions already cached. */
  get length(): number {
    return this.device[0]?.filled ?? this.stock[0]?.k.shape[2] ?? 0;
  }

  /**
   * Caches k, v [B, K, T, D] of layer i after the positions already held, and attends q
   * [B, H, T, D] over all of them; returns a new [B, T, H·D] tensor. In layout 'tokens' q, k, v
   * are [B, T, H, D] and [B, T, K, D] (the device path reads them as they are). With `rope`, q
   * and k come unrotated and are rotated here (on the device, in the cache write's dispatch).
   */
  attend(
    i: number,
    q: tf.Tensor4D,
    k: tf.Tensor4D,
    v: tf.Tensor4D,
    layout: HeadLayout = 'heads',
    rope: RopeTables | null = null,
  ): tf.Tensor3D {
    if (this.device[i] || (!this.stock[i] && gpuKernelsActive())) {
      return this.attendOnDevice(i, q, k, v, layout, rope);
    }
    return tf.tidy(() => {
      const heads = (x: tf.Tensor4D) =>
        layout === 'heads' ? x : (tf.transpose(x, [0, 2, 1, 3]) as tf.Tensor4D); // [B, h, T, D]
      const rotate = (x: tf.Tensor4D) => (rope ? applyRope(x, rope) : x);
      const kv = this.append(i, rotate(heads(k)), heads(v));
      return attend(rotate(heads(q)), kv.k, kv.v);
    });
  }

  /** Stock path: appends by concat; the returned k, v are the cache's own (do not dispose). */
  private append(i: number, k: tf.Tensor4D, v: tf.Tensor4D): LayerKv {
    const prev = this.stock[i] ?? null;
    const next: LayerKv = prev
      ? { k: tf.keep(tf.concat([prev.k, k], 2)), v: tf.keep(tf.concat([prev.v, v], 2)) }
      : { k: tf.keep(k.clone()), v: tf.keep(v.clone()) };
    if (prev) tf.dispose([prev.k, prev.v]);
    this.stock[i] = next;
    return next;
  }

  /**
   * `attend` for a packed projection qkv [B, T, (H + 2K)·D] ([q | k | v] per token, GPT-2's
   * c_attn): on the device its k, v columns go into the cache and q is read in place (no split).
   */
  attendPacked(
    i: number,
    qkv: tf.Tensor3D,
    heads: { H: number; K: number; D: number },
  ): tf.Tensor3D {
    const { H, K, D } = heads;
    if (this.device[i] || (!this.stock[i] && gpuKernelsActive())) {
      const [B, T, W] = qkv.shape;
      const { layer, kDst, vDst, at } = this.reserve(i, B, K, T, D);
      writeKvCachePacked(qkv, heads, kDst, vDst, at);
      return attendFilled(layer, qkv, { strides: [T * W, D, W], offset: 0 }, { B, H, K, T, D });
    }
    return tf.tidy(() => {
      const [q, k, v] = tf.split(qkv, [H * D, K * D, K * D], 2) as tf.Tensor3D[];
      return this.attend(i, splitHeads(q!, H, D), splitHeads(k!, K, D), splitHeads(v!, K, D));
    });
  }

  private attendOnDevice(
    i: number,
    q: tf.Tensor4D,
    k: tf.Tensor4D,
    v: tf.Tensor4D,
    layout: HeadLayout,
    rope: RopeTables | null,
  ): tf.Tensor3D {
    const [B, K, T, D] = dimsOf(k.shape, layout);
    const H = dimsOf(q.shape, layout)[1];
    const { layer, kDst, vDst, at } = this.reserve(i, B, K, T, D);
    // One dispatch moves k, v into place (rotating k and q when there are tables).
    if (!rope) {
      writeKvCache(k, v, kDst, vDst, at, layout);
      return attendFilled(layer, q, layout, { B, H, K, T, D });
    }
    const rotated = appendKvCacheRope(q, k, v, kDst, vDst, at, rope, layout);
    const o = attendFilled(layer, rotated, layout, { B, H, K, T, D });
    rotated.dispose();
    return o;
  }

  /**
   * Layer i's buffers with room for T more positions (allocated or grown as needed), where the
   * next T go (`at` within kDst/vDst), and the layer marked filled up to them.
   */
  private reserve(i: number, B: number, K: number, T: number, D: number) {
    let layer = this.device[i];
    if (!layer) {
      const cap = Math.max(T, this.options.capacity ?? T + DEFAULT_ROOM);
      layer = {
        kA: buffer([B, K, cap, D]),
        vA: buffer([B, K, cap, D]),
        kB: null,
        vB: null,
        prefix: 0,
        filled: 0,
      };
      this.device[i] = layer;
    }
    const pos = layer.filled;
    const tiled = layer.kB !== null;
    const at = tiled ? pos - layer.prefix : pos;
    const [kDst, vDst] = tiled ? [layer.kB!, layer.vB!] : [layer.kA, layer.vA];
    const [nk, nv] =
      at + T > kDst.shape[2] ? [grow(kDst, at, at + T), grow(vDst, at, at + T)] : [kDst, vDst];
    if (tiled) [layer.kB, layer.vB] = [nk, nv];
    else [layer.kA, layer.vA] = [nk, nv];
    layer.filled = pos + T;
    return { layer, kDst: nk, vDst: nv, at };
  }

  /**
   * A new cache for `n` samples continuing this batch-1 one, with room for `capacity` positions
   * in all (device path; default: `DEFAULT_ROOM` more). The device path shares this cache's
   * prefill (no copy); the stock path tiles it.
   */
  tile(n: number, capacity?: number): KvCache {
    const out = new KvCache(this.numLayers, { capacity });
    tf.tidy(() => {
      this.stock.forEach((kv, i) => {
        if (kv) {
          out.stock[i] = {
            k: tf.keep(tf.tile(kv.k, [n, 1, 1, 1])),
            v: tf.keep(tf.tile(kv.v, [n, 1, 1, 1])),
          };
        }
      });
      this.device.forEach((d, i) => {
        if (!d) return;
        if (d.kB || d.kA.shape[0] !== 1)
          throw new Error('KvCache.tile needs a batch-1, untiled cache');
        const [, K, , D] = d.kA.shape;
        const room = Math.max(1, (capacity ?? d.filled + DEFAULT_ROOM) - d.filled);
        out.device[i] = {
          kA: tf.keep(d.kA.clone()), // the same buffer: the prefill is shared, not copied
          vA: tf.keep(d.vA.clone()),
          kB: buffer([n, K, room, D]),
          vB: buffer([n, K, room, D]),
          prefix: d.filled,
          filled: d.filled,
        };
      });
    });
    return out;
  }

  dispose(): void {
    for (const kv of this.stock) if (kv) tf.dispose([kv.k, kv.v]);
    for (const d of this.device) if (d) tf.dispose([d.kA, d.vA, d.kB ?? [], d.vB ?? []]);
    this.stock.fill(null);
    this.device.fill(null);
  }
}

/** A kept device buffer the cache owns and kernels write in place. */
function buffer(shape: [number, number, number, number]): tf.Tensor4D {
  return tf.keep(emptyTensor<tf.Tensor4D>(shape));
}

/** t [B, K, cap, D] with its first `rows` positions kept and room for at least `need`; disposes t. */
function grow(t: tf.Tensor4D, rows: number, need: number): tf.Tensor4D {
  const cap = Math.max(need, 2 * t.shape[2]);
  const grown = tf.tidy(() =>
    tf.keep(
      tf.pad(tf.slice(t, [0, 0, 0, 0], [-1, -1, rows, -1]), [
        [0, 0],
        [0, 0],
        [0, cap - rows],
        [0, 0],
      ]),
    ),
  );
  t.dispose();
  return grown as tf.Tensor4D;
}

/** The attention of q over every position a layer holds; a new [B, T, H·D]. */
function attendFilled(
  layer: DeviceLayer,
  q: tf.Tensor,
  qView: HeadLayout | QView,
  shape: { B: number; H: number; K: number; T: number; D: number },
): tf.Tensor3D {
  const S = layer.filled;
  const { o, stats } = attentionForwardRegions(q, qView, regionsOf(layer, S), { ...shape, S });
  stats.dispose();
  return o;
}

/** Where the attention kernel finds a layer's S cached positions. */
function regionsOf(layer: DeviceLayer, S: number): KvRegions {
  const [Ba, K, capA, D] = layer.kA.shape;
  if (layer.kB && layer.vB) {
    const capB = layer.kB.shape[2];
    return {
      kA: layer.kA,
      vA: layer.vA,
      P: layer.prefix,
      aStrides: [Ba === 1 ? 0 : K * capA * D, capA * D, D],
      kB: layer.kB,
      vB: layer.vB,
      bStrides: [K * capB * D, capB * D, D],
    };
  }
  return {
    kA: layer.kA,
    vA: layer.vA,
    P: S,
    aStrides: [K * capA * D, capA * D, D],
    kB: layer.kA,
    vB: layer.vA,
    bStrides: [0, 0, 0],
  };
}
