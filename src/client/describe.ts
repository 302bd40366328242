/**
 * How error messages show a value the caller passed: short, and never throwing, whatever it is
 * (bigints and cyclic objects make `JSON.stringify` throw; symbols make template strings throw).
 */
export function describe(value: unknown, max = 60): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined)
    return String(value);
  try {
    const json = JSON.stringify(value);
    return json.length > max ? `${json.slice(0, max)}…` : json;
  } catch {
    return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
  }
}
