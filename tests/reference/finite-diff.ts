/**
 * Central finite differences of a scalar function of a float64 parameter vector, to check the
 * gradients the engine computes (LoRA factors, losses) against the float64 reference.
 *
 * g_i ≈ (f(x + h·e_i) − f(x − h·e_i)) / (2h). The truncation error is h²/6 · ∂³f/∂x_i³ (zero for a
 * quadratic), the rounding error about ε·|f| / h with ε = 2⁻⁵²; h = 1e-5 balances the two for
 * smooth functions of order-one values (error near 1e-10 relative).
 */

/**
 * Finite-difference gradient of `f` at `x`. Returns one entry per index of `indices`, in that order
 * (every index of `x` when omitted). `x` is not modified; `f` is called on a perturbed copy.
 */
export function gradFD(
  f: (x: Float64Array) => number,
  x: Float64Array,
  h = 1e-5,
  indices?: readonly number[],
): Float64Array {
  if (!(h > 0)) throw new Error(`gradFD: step h must be positive, got ${h}.`);
  const at = indices ?? Array.from(x, (_, i) => i);
  const work = Float64Array.from(x);
  return Float64Array.from(at, (i) => {
    if (!Number.isInteger(i) || i < 0 || i >= x.length) {
      throw new Error(`gradFD: index ${i} is outside [0, ${x.length}).`);
    }
    const xi = x[i]!;
    const plus = xi + h;
    const minus = xi - h;
    work[i] = plus;
    const up = f(work);
    work[i] = minus;
    const down = f(work);
    work[i] = xi;
    // Divide by the step actually taken (plus − minus), not 2h: x ± h rounds.
    return (up - down) / (plus - minus);
  });
}
