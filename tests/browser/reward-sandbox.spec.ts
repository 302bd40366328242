// Code rewards under the app's Content-Security-Policy (script-src 'self' 'wasm-unsafe-eval';
// worker-src 'self'; no 'unsafe-eval'), on the page and on the reward worker's own response: the
// student's function runs (QuickJS compiled to WebAssembly needs no eval), a loop is stopped at the
// per-call limit, the network and the page are out of reach, and errors name the line.
import { expect, test, type Route } from '@playwright/test';

const POLICY =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'";

interface Scored {
  rewards: number[] | null;
  error: string | null;
  ms: number;
}

test('code rewards run in their worker under a CSP without unsafe-eval', async ({
  page,
  context,
}) => {
  const withPolicy = async (route: Route) => {
    const response = await route.fetch();
    const headers = { ...response.headers(), 'content-security-policy': POLICY };
    await route.fulfill({ response, headers: { ...headers, 'cache-control': 'no-store' } });
  };
  await context.route(/reward\.worker.*worker_file/, withPolicy);
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused/.test(m.text())) violations.push(m.text());
  });
  await page.goto('/tests/browser/pages/reward-csp.html');
  await page.waitForSelector('body[data-ready="true"]');
  expect(
    await page.evaluate(
      () => (window as unknown as { evalAllowedAtLoad: boolean }).evalAllowedAtLoad,
    ),
  ).toBe(false);
  violations.length = 0; // the refused eval just above is reported; what follows must not be
  const score = (source: string, completions: string[]) =>
    page.evaluate(
      ([s, c]) =>
        (window as unknown as { score(s: string, p: string, c: string[]): Promise<Scored> }).score(
          s,
          'Write a sentence about the sea.',
          c,
        ),
      [source, completions] as const,
    );

  const ok = await score('(prompt, completion) => (/whale/i.test(completion) ? 1 : 0)', [
    'A whale.',
    'The sea.',
  ]);
  expect(ok).toMatchObject({ rewards: [1, 0], error: null });

  const reach = await score(
    '() => [typeof fetch, typeof XMLHttpRequest, typeof importScripts, typeof document, typeof postMessage, typeof WebSocket].join(" ")',
    ['x'],
  );
  expect(reach.error).toMatch(
    /returned "undefined undefined undefined undefined undefined undefined"/,
  );

  const loop = await score('(prompt, completion) => {\n  for (;;) {}\n}', ['x']);
  expect(loop.error).toMatch(/ran past its 150 ms limit on completion 1/);

  const thrown = await score('(p, c) => {\n  return c.foo.bar;\n}', ['x']);
  expect(thrown.error).toMatch(/threw on completion 1, line 2: TypeError/);
  expect(violations).toEqual([]);
});
