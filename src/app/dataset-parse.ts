/**
 * Training text as the lab accepts it, one example a line:
 * - chat: `{"messages": [{"role": "user", "content": …}, …, {"role": "assistant", …}]}`; the last
 *   message must be the assistant's (it is the one trained);
 * - completion: `{"prompt": "…", "completion": "…"}`;
 * - plain text: any line that does not start with `{` (every token trained), or `{"text": "…"}`.
 * A line that cannot be read is reported by its number with the reason and skipped, never dropped
 * silently. Turning examples into tokens is dataset-tokens.ts's job.
 */

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export type Example =
  | { readonly kind: 'chat'; readonly messages: readonly ChatMessage[] }
  | { readonly kind: 'completion'; readonly prompt: string; readonly completion: string }
  | { readonly kind: 'text'; readonly text: string };

export type ExampleKind = Example['kind'];

export interface LineIssue {
  /** 1-based line number in the pasted or uploaded text. */
  readonly line: number;
  readonly message: string;
}

export interface ParsedDataset {
  readonly examples: readonly Example[];
  /** The source line of each example (1-based), parallel to `examples`. */
  readonly lines: readonly number[];
  readonly issues: readonly LineIssue[];
  /** The kind every example has, 'mixed' when they differ, 'empty' when there are none. */
  readonly format: ExampleKind | 'mixed' | 'empty';
}

const SHAPES = '{"messages": [...]}, {"prompt", "completion"} or {"text"}';

/** Reads `text` line by line; blank lines are ignored, bad lines become issues. */
export function parseDataset(text: string): ParsedDataset {
  const examples: Example[] = [];
  const lines: number[] = [];
  const issues: LineIssue[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const result = parseLine(raw);
    if (typeof result === 'string') issues.push({ line, message: result });
    else {
      examples.push(result);
      lines.push(line);
    }
  });
  return { examples, lines, issues, format: formatOf(examples) };
}

/** One line as an example, or the reason it is not one. */
export function parseLine(raw: string): Example | string {
  const trimmed = raw.trim();
  if (!trimmed.startsWith('{')) return { kind: 'text', text: raw.replace(/\s+$/, '') };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    return `not valid JSON (${(error as Error).message}); each line must be one JSON object or plain text.`;
  }
  if (!isRecord(value)) return `expected a JSON object (${SHAPES}).`;
  if ('messages' in value) return chatExample(value['messages']);
  if ('prompt' in value || 'completion' in value) return completionExample(value);
  if ('text' in value) {
    return typeof value['text'] === 'string' && value['text'] !== ''
      ? { kind: 'text', text: value['text'] }
      : '"text" must be a non-empty string.';
  }
  const keys = Object.keys(value).slice(0, 4).join(', ') || 'no keys';
  return `an object with ${keys}; expected ${SHAPES}.`;
}

function chatExample(messages: unknown): Example | string {
  if (!Array.isArray(messages) || messages.length < 2) {
    return '"messages" must be an array of at least two messages (a question and the reply to train).';
  }
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isRecord(m) || typeof m['role'] !== 'string' || typeof m['content'] !== 'string') {
      return `messages[${i}] must be {"role": string, "content": string}.`;
    }
  }
  const list = messages as ChatMessage[];
  const last = list[list.length - 1] as ChatMessage;
  if (last.role !== 'assistant') {
    return `the last message must be the assistant's reply (the part that is trained), got role "${last.role}".`;
  }
  if (last.content === '') return 'the assistant reply is empty; there is nothing to train.';
  return { kind: 'chat', messages: list.map((m) => ({ role: m.role, content: m.content })) };
}

function completionExample(value: Record<string, unknown>): Example | string {
  const { prompt, completion } = value;
  if (typeof prompt !== 'string') return '"prompt" must be a string.';
  if (typeof completion !== 'string') {
    return 'has a "prompt" but no "completion" string; add the answer to train on.';
  }
  if (completion === '') return '"completion" is empty; there is nothing to train.';
  return { kind: 'completion', prompt, completion };
}

function formatOf(examples: readonly Example[]): ParsedDataset['format'] {
  const kinds = new Set(examples.map((e) => e.kind));
  if (kinds.size === 0) return 'empty';
  return kinds.size === 1 ? (examples[0] as Example).kind : 'mixed';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The user turns of a chat example (or the prompt), as text for the "Try it" prompt box. */
export function promptOf(example: Example): string {
  if (example.kind === 'completion') return example.prompt;
  if (example.kind === 'text') return example.text.split(/\s+/).slice(0, 4).join(' ');
  const users = example.messages.filter((m) => m.role === 'user');
  return users[users.length - 1]?.content ?? '';
}
