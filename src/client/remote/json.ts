/**
 * JSON for the protocol, keeping the sign of zero: `JSON.stringify(-0)` prints `0`, so a masked
 * position's log-prob (−0 in the engine) would come back as +0 and results over HTTP would differ
 * from in-process ones in that bit. Negative zeros are written `-0.0` (as Python's json writes
 * them), which `JSON.parse` reads back as −0. Used by both ends: the remote placement and
 * `loops-web serve`.
 */

// A marker no real string value contains (a private-use character pair).
const MARK = '\uE000-0\uE000';

export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (Object.is(v, -0) ? MARK : v));
  return text.includes(MARK) ? text.replaceAll(`"${MARK}"`, '-0.0') : text;
}
