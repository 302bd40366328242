/**
 * Reading the demo datasets (public/datasets/*.jsonl): one JSON value a line, checked for the shape
 * each example needs. Where the text comes from is the caller's: a `TextLoader` reads files in Node
 * (examples/lib/node-cli.ts) and `fetch`es them in a browser. Browser-safe (no Node imports).
 */
import { InvalidFileError } from '../../src/index';

/** Reads one dataset file by name (for example 'whaling-chat.train.jsonl') as text. */
export type TextLoader = (file: string) => Promise<string>;

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** The values of a JSONL text; blank lines are skipped. Throws `InvalidFileError` naming the line. */
export function parseJsonl(text: string, file: string): unknown[] {
  const values: unknown[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      values.push(JSON.parse(raw));
    } catch (error) {
      throw new InvalidFileError(
        `${file} line ${i + 1} is not JSON (${(error as Error).message}); each line must be one JSON object.`,
      );
    }
  });
  return values;
}

/** Conversations of a chat set: lines `{"messages": [{"role", "content"}, …]}`. */
export function readChatLines(text: string, file: string): ChatMessage[][] {
  return parseJsonl(text, file).map((value, i) => {
    const messages = (value as { messages?: unknown } | null)?.messages;
    const ok =
      Array.isArray(messages) &&
      messages.length > 0 &&
      messages.every(
        (m: unknown) =>
          typeof (m as ChatMessage | null)?.role === 'string' &&
          typeof (m as ChatMessage).content === 'string',
      );
    if (!ok) {
      throw new InvalidFileError(
        `${file} entry ${i + 1} must be {"messages": [{"role": string, "content": string}, …]}, got ${JSON.stringify(value).slice(0, 80)}.`,
      );
    }
    return messages as ChatMessage[];
  });
}

/** Prompts of an RL task: lines `{"prompt": "…"}`. */
export function readPromptLines(text: string, file: string): string[] {
  return parseJsonl(text, file).map((value, i) => {
    const prompt = (value as { prompt?: unknown } | null)?.prompt;
    if (typeof prompt !== 'string' || prompt === '') {
      throw new InvalidFileError(
        `${file} entry ${i + 1} must be {"prompt": "<non-empty text>"}, got ${JSON.stringify(value).slice(0, 80)}.`,
      );
    }
    return prompt;
  });
}
