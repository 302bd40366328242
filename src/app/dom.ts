/** Small DOM helpers for the lab's panels: typed lookups and element building without a framework. */

/** The element with `id`; throws when index.html lacks it (a broken page should say so at once). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no element #${id}; the lab needs it.`);
  return found as T;
}

type Child = Node | string | null | undefined | false;

/** `<tag ...attributes>children</tag>`; `class` and `text` are shorthands. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (key === 'class') node.className = String(value);
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

/** Sets a status line's text and its tone ('error' and 'ok' colour it). */
export function setStatus(
  node: HTMLElement,
  text: string,
  tone: 'info' | 'ok' | 'error' = 'info',
): void {
  node.textContent = text;
  node.classList.toggle('error', tone === 'error');
  node.classList.toggle('ok', tone === 'ok');
}

/** A number input's value, clamped to its min/max and rounded when its step is an integer. */
export function numberValue(input: HTMLInputElement, fallback: number): number {
  let v = Number(input.value);
  if (!Number.isFinite(v) || input.value.trim() === '') v = fallback;
  if (input.min !== '') v = Math.max(Number(input.min), v);
  if (input.max !== '') v = Math.min(Number(input.max), v);
  if (input.step !== 'any' && Number.isInteger(Number(input.step || '1'))) v = Math.round(v);
  return v;
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Starts a download of `bytes` as `fileName`. */
export function downloadBytes(bytes: Uint8Array, fileName: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = el('a', { href: url, download: fileName });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
