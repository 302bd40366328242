/**
 * Whether a module is the script Node was started with (`node --import tsx examples/sl-loop.ts`),
 * so an example runs its command line only then, and stays a plain importable module in the app
 * and in tests. Browser-safe: without Node's `process` the answer is false.
 */
export function isMainModule(moduleUrl: string): boolean {
  const script = (globalThis as { process?: { argv?: readonly string[] } }).process?.argv?.[1];
  if (!script || !moduleUrl.startsWith('file:')) return false;
  const path = decodeURIComponent(new URL(moduleUrl).pathname);
  // Node resolves argv[1] to an absolute path; on Windows it has back-slashes and a drive letter.
  const normalised = script.replace(/\\/g, '/');
  return path === normalised || path === `/${normalised}`;
}
