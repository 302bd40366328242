/**
 * Collects Content-Security-Policy violations of a Playwright page: `securitypolicyviolation`
 * events on the page, and the console lines Chromium writes for refused loads, compiles and
 * workers, in the page and in its workers (Playwright reports workers' console on the page).
 * Start it before the page navigates.
 */
import type { Page } from '@playwright/test';

export interface CspWatch {
  /** "directive blocked-uri" per `securitypolicyviolation` event. */
  readonly events: string[];
  /** Console lines that report a refusal by the policy. */
  readonly console: string[];
}

export async function watchCsp(page: Page): Promise<CspWatch> {
  const seen: CspWatch = { events: [], console: [] };
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) seen.console.push(m.text());
  });
  await page.exposeFunction('reportCspViolation', (text: string) => seen.events.push(text));
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { reportCspViolation(t: string): void }).reportCspViolation(
        `${e.effectiveDirective} ${e.blockedURI}`,
      ),
    ),
  );
  return seen;
}
