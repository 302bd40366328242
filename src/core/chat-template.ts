/**
 * Chat templates: picks the Jinja text out of a `tokenizer_config.json` and renders it with
 * `@huggingface/jinja`, a tree-walking interpreter that reaches only what the render context hands
 * it (no `eval`, no `Function`, no globals), so a template from an untrusted repo cannot run code.
 *
 * Tokenizing the rendered text is left to `TextTokenizer` (with `add_special_tokens: false`, since
 * the template writes BOS and the role markers itself, as transformers does).
 */
import { Template } from '@huggingface/jinja';
import { InvalidFileError, ValidationError } from '../errors/loops-errors';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/**
 * The template text from a config's `chat_template`: a string, a list of `{name, template}` or a
 * name → template map (the named forms use the one called "default"). `undefined` when absent.
 */
export function pickChatTemplate(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw;
  if (Array.isArray(raw)) {
    const named = raw.find((t: unknown) => isRecord(t) && t['name'] === 'default') as unknown;
    const text = isRecord(named) ? named['template'] : undefined;
    return typeof text === 'string' ? text : undefined;
  }
  if (isRecord(raw) && typeof raw['default'] === 'string') return raw['default'];
  return undefined;
}

/** Throws a `ValidationError` naming the first message that is not `{role: string, content: string}`. */
export function checkMessages(messages: unknown): asserts messages is readonly ChatMessage[] {
  if (!Array.isArray(messages)) {
    throw new ValidationError(
      `apply_chat_template: messages must be an array of {role, content}, got ${typeof messages}.`,
    );
  }
  messages.forEach((m: unknown, i) => {
    if (!isRecord(m) || typeof m['role'] !== 'string' || typeof m['content'] !== 'string') {
      throw new ValidationError(
        `apply_chat_template: messages[${i}] must be {role: string, content: string}, ` +
          `got ${(JSON.stringify(m) ?? String(m)).slice(0, 80)}.`,
      );
    }
  });
}

/** A parsed chat template; parse once, render many times. */
export class ChatTemplate {
  private readonly template: Template;

  /** Throws `InvalidFileError` when the text is not a template the interpreter can parse. */
  constructor(readonly source: string) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new InvalidFileError(
        `tokenizer_config.json: chat_template does not parse (${messageOf(error)}). ` +
          'Fix the template text, or pass a working one as the chatTemplate option.',
      );
    }
  }

  /**
   * Renders the conversation. `variables` are the other names the template may read
   * (`add_generation_prompt`, `bos_token`, …); `messages` always wins over a variable of that name.
   */
  render(messages: readonly ChatMessage[], variables: Readonly<Record<string, unknown>>): string {
    try {
      return this.template.render({ ...variables, messages });
    } catch (error) {
      // Templates call raise_exception() for conversations they refuse (roles out of order, …).
      throw new ValidationError(
        `apply_chat_template: the chat template failed on this conversation: ${messageOf(error)}. ` +
          'Check the roles and their order against what the model expects.',
      );
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
