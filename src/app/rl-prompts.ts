/**
 * The prompts an RL session trains on: JSONL (`{"prompt": "…"}` a line), pasted or the shipped set.
 */

/** The shipped prompt set's file under public/datasets. */
export const SHIPPED_PROMPTS = 'whale-sentences.prompts.jsonl';

/** Prompts of a JSONL text (`{"prompt": "…"}` a line); throws naming the first bad line. */
export function parsePrompts(text: string): string[] {
  const prompts: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`prompt line ${i + 1} is not JSON; write {"prompt": "…"}.`);
    }
    const prompt = (value as { prompt?: unknown } | null)?.prompt;
    if (typeof prompt !== 'string' || prompt.trim() === '')
      throw new Error(`prompt line ${i + 1} has no "prompt" text; write {"prompt": "…"}.`);
    prompts.push(prompt);
  });
  if (prompts.length === 0) throw new Error('there are no prompts; paste {"prompt": "…"} lines.');
  return prompts;
}

/** The shipped prompt set (public/datasets). */
export async function shippedPrompts(): Promise<string[]> {
  const response = await fetch(`${import.meta.env.BASE_URL}datasets/${SHIPPED_PROMPTS}`);
  if (!response.ok) throw new Error(`datasets/${SHIPPED_PROMPTS} answered ${response.status}`);
  return parsePrompts(await response.text());
}
