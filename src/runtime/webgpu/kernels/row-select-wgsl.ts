/**
 * WGSL building blocks for choosing within rows of logits on the device, one workgroup per row:
 * the row's max, argmax and log-sum-exp; the k-th largest logit (top-k) or the cut where the
 * descending cumulative weight reaches a fraction (top-p), both by radix select; and the id of the
 * n-th tie at a cut. sample-rows.ts (decode) and log-softmax-rows.ts (prompt scoring) include
 * this text and supply what it leaves open:
 *
 *   var<storage, read> logits: array<f32>     the rows, read at base + i for i < n
 *   fn inSearch(i: u32, key: u32) -> bool     which elements a radix select counts
 *   fn searchWeight(l: f32) -> f32            the weight a weighted select sums
 *
 * No sort of the row. Radix select (as in GPU top-k selection, e.g. Alabi et al., "Fast k-selection
 * algorithms for graphics processing units", 2012) walks the 32-bit order key of each logit from
 * its high digit down, 4 bits per pass: a pass sums, per digit value, the count (top-k) or weight
 * (top-p) of the elements that still match the digits chosen so far, and keeps the bin where the
 * descending cumulative total reaches what is still wanted. Eight passes over the row give the cut
 * key exactly. Weights need float sums, and WGSL has no float atomics, so each invocation keeps 16
 * private sums and the workgroup reduces them (8 bins at a time in 8 KiB of workgroup memory).
 *
 * Order key: for IEEE floats, flipping the sign bit of positives and every bit of negatives gives
 * unsigned integers in the same order (−0 is mapped to +0 first, so they tie as floats do).
 * Finite floats have keys in [0x00800000, 0xff7fffff]; −Infinity is 0x007fffff.
 *
 * Ties follow src/sampling/choose-token.ts: at a cut, the lowest ids are kept first.
 */

/** Invocations per workgroup (one workgroup per row); the reductions below assume 256. */
export const ROW_WORKGROUP = 256;

/** The shared WGSL: constants, workgroup memory, and the functions named in the module comment. */
export const ROW_SELECT_WGSL = /* wgsl */ `
const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

// Reductions: 8 bins × WG partials, or the row statistics' four WG-wide arrays.
var<workgroup> redF: array<f32, 2048>;
var<workgroup> redU: array<u32, 512>;
var<workgroup> bins: array<f32, 16>;
var<workgroup> flag: u32;

// Elements above key, and those at key with id <= tieId. Cut(0u, NONE) keeps every element.
struct Cut { key: u32, tieId: u32 }

struct RowStats {
  max: f32,
  lse: f32,
  // First index of the max (NONE: nothing finite and above -Infinity).
  argmax: u32,
  // First index holding NaN or +Infinity (NONE: none).
  bad: u32,
}

fn orderKey(l: f32) -> u32 {
  var b = bitcast<u32>(l);
  if (b == 0x80000000u) { b = 0u; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}

fn keyValue(k: u32) -> f32 {
  if ((k & 0x80000000u) != 0u) { return bitcast<f32>(k & 0x7fffffffu); }
  return bitcast<f32>(~k);
}

fn inCut(c: Cut, i: u32, key: u32) -> bool {
  return key > c.key || (key == c.key && i <= c.tieId);
}

// Invocation tid's contiguous chunk [x, y) of a row of n, for scans in id order.
fn chunkOf(n: u32, tid: u32) -> vec2<u32> {
  let chunk = (n + WG - 1u) / WG;
  let lo = min(tid * chunk, n);
  return vec2<u32>(lo, min(lo + chunk, n));
}

// Max, its first index and log-sum-exp of logits[base, base + n), skipping -Infinity; NaN and
// +Infinity are reported in bad. Online softmax per invocation, then a tree over the workgroup.
fn rowStats(base: u32, n: u32, tid: u32) -> RowStats {
  var m = 0.0;
  var s = 0.0;
  var am = NONE;
  var bad = NONE;
  for (var i = tid; i < n; i += WG) {
    let l = logits[base + i];
    let bits = bitcast<u32>(l);
    if ((bits & 0x7fffffffu) >= 0x7f800000u) {
      if (bits != 0xff800000u) { bad = min(bad, i); }
      continue;
    }
    if (am == NONE) {
      m = l;
      s = 1.0;
      am = i;
    } else if (l > m) {
      s = s * exp(m - l) + 1.0;
      m = l;
      am = i;
    } else {
      s += exp(l - m);
    }
  }
  redF[tid] = m;
  redF[WG + tid] = s;
  redU[tid] = am;
  redU[WG + tid] = bad;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (tid < stride) {
      let o = tid + stride;
      let am2 = redU[o];
      let am1 = redU[tid];
      if (am2 != NONE) {
        let m1 = redF[tid];
        let s1 = redF[WG + tid];
        let m2 = redF[o];
        let s2 = redF[WG + o];
        if (am1 == NONE) {
          redF[tid] = m2;
          redF[WG + tid] = s2;
          redU[tid] = am2;
        } else if (m2 > m1 || (m2 == m1 && am2 < am1)) {
          redF[tid] = m2;
          redF[WG + tid] = s2 + s1 * exp(m1 - m2);
          redU[tid] = am2;
        } else {
          redF[WG + tid] = s1 + s2 * exp(m2 - m1);
        }
      }
      redU[WG + tid] = min(redU[WG + tid], redU[WG + o]);
    }
    workgroupBarrier();
  }
  let st = RowStats(redF[0], redF[0] + log(redF[WG]), redU[0], redU[WG]);
  workgroupBarrier();
  return st;
}

// One radix pass: for the 4-bit digit at shift of the keys that match prefix under mask (and
// inSearch), the count or the summed searchWeight per digit value, into bins.
fn histogram(base: u32, n: u32, tid: u32, prefix: u32, mask: u32, shift: u32, weighted: bool) {
  var acc: array<f32, 16>;
  for (var i = tid; i < n; i += WG) {
    let l = logits[base + i];
    let key = orderKey(l);
    if ((key & mask) == prefix && inSearch(i, key)) {
      let d = (key >> shift) & 15u;
      if (weighted) { acc[d] += searchWeight(l); } else { acc[d] += 1.0; }
    }
  }
  for (var half = 0u; half < 16u; half += 8u) {
    for (var j = 0u; j < 8u; j++) { redF[j * WG + tid] = acc[half + j]; }
    workgroupBarrier();
    // 32 invocations per bin, 8 partials each, then one invocation per bin over its 32.
    let first = (tid / 32u) * WG + (tid % 32u) * 8u;
    var p = 0.0;
    for (var q = 0u; q < 8u; q++) { p += redF[first + q]; }
    workgroupBarrier();
    redF[tid] = p;
    workgroupBarrier();
    if (tid < 8u) {
      var t = 0.0;
      for (var q = 0u; q < 32u; q++) { t += redF[tid * 32u + q]; }
      bins[half + tid] = t;
    }
    workgroupBarrier();
  }
}

// The cut holding the largest elements of the search set (by key, ties lowest id first) until
// they reach want: a count (weighted false: exactly want elements), or, weighted, want times the
// set's total weight (the smallest such prefix, as a nucleus). Every invocation returns the same.
fn radixCut(base: u32, n: u32, tid: u32, want: f32, weighted: bool) -> Cut {
  var prefix = 0u;
  var mask = 0u;
  var left = want;
  var eq = 0.0;
  for (var round = 0u; round < 8u; round++) {
    let shift = 28u - 4u * round;
    histogram(base, n, tid, prefix, mask, shift, weighted);
    if (weighted && round == 0u) {
      var total = 0.0;
      for (var b = 15i; b >= 0i; b--) { total += bins[b]; }
      left = want * total;
    }
    var above = 0.0;
    var pick = -1i;
    for (var b = 15i; b >= 0i; b--) {
      let c = bins[b];
      if (c > 0.0 && left <= above + c) { pick = b; break; }
      above += c;
    }
    if (pick < 0i) {
      // Rounding left more wanted than the bins hold: take all that is left.
      pick = 0i;
      for (var b = 15i; b >= 0i; b--) { if (bins[b] > 0.0) { pick = b; } }
      above = 0.0;
      for (var b = 15i; b > pick; b--) { above += bins[b]; }
      left = above + bins[pick];
    }
    left -= above;
    eq = bins[pick];
    prefix |= u32(pick) << shift;
    mask |= 15u << shift;
  }
  // eq: the count (or weight) at the cut key; how many of those ties to keep, lowest ids first.
  var ties = eq;
  var need = left;
  if (weighted) {
    let w = searchWeight(keyValue(prefix));
    if (w > 0.0) {
      ties = round(eq / w);
      need = ceil(left / w);
    } else {
      need = ties;
    }
  }
  if (tid == 0u) { flag = select(0u, u32(max(need, 1.0)), need < ties); }
  let nth = workgroupUniformLoad(&flag);
  var tieId = NONE;
  if (nth > 0u) { tieId = nthMatch(base, n, tid, prefix, nth); }
  return Cut(prefix, tieId);
}

// The id of the nth (1-based, ascending ids) element of the search set whose key is key. Each
// invocation counts a contiguous chunk; one scans the counts; the owner of the nth walks its chunk.
fn nthMatch(base: u32, n: u32, tid: u32, key: u32, nth: u32) -> u32 {
  let span = chunkOf(n, tid);
  let lo = span.x;
  let hi = span.y;
  var c = 0u;
  for (var i = lo; i < hi; i++) {
    let k = orderKey(logits[base + i]);
    if (k == key && inSearch(i, k)) { c++; }
  }
  redU[tid] = c;
  workgroupBarrier();
  if (tid == 0u) {
    var before = 0u;
    var owner = NONE;
    for (var t = 0u; t < WG; t++) {
      if (owner == NONE && before + redU[t] >= nth) {
        owner = t;
        redU[WG + 1u] = nth - before;
      }
      before += redU[t];
    }
    redU[WG] = owner;
    redU[WG + 2u] = NONE;
  }
  workgroupBarrier();
  if (tid == redU[WG]) {
    var left = redU[WG + 1u];
    for (var i = lo; i < hi; i++) {
      let k = orderKey(logits[base + i]);
      if (k == key && inSearch(i, k)) {
        left--;
        if (left == 0u) {
          redU[WG + 2u] = i;
          break;
        }
      }
    }
  }
  workgroupBarrier();
  let id = redU[WG + 2u];
  workgroupBarrier();
  return id;
}
`;

/** The order key of a float32 value, as the WGSL computes it (tests and references). */
export function orderKey(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  let bits = view.getUint32(0, true);
  if (bits === 0x80000000) bits = 0;
  return (bits & 0x80000000) !== 0 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}
