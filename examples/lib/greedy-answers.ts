/**
 * Greedy answers to held-out chat questions, scored against the whaling chat set's answers: in the
 * taught format (examples/lib/answer-format.ts), naming the right chapter, exactly right. Used by
 * examples/sl-loop.ts before and after training. Browser-safe (no Node imports).
 */
import { SamplingParams } from '../../src/index';
import type { SamplingClient, Tokenizer } from '../../src/index';
import { answerChapter, followsAnswerFormat } from './answer-format';
import { generationPrompt, stopTokenIds } from './chat-datum';
import type { ChatMessage } from './jsonl';

export interface GreedyAnswer {
  readonly question: string;
  readonly expected: string;
  readonly answer: string;
  /** Stopped on its own (end-of-turn) and is one line in the taught format. */
  readonly followsFormat: boolean;
  /** In the format and names the right chapter number (the title may still be wrong). */
  readonly rightChapter: boolean;
  readonly exact: boolean;
}

export interface AnswerScore {
  readonly answers: readonly GreedyAnswer[];
  /** Share of answers in the taught format, 0..1. */
  readonly formatShare: number;
  /** Share of answers in the format naming the right chapter, 0..1. */
  readonly chapterShare: number;
  /** Share of answers exactly right, 0..1. */
  readonly exactShare: number;
}

/** Greedy answers to the last user message of each conversation, scored against its answer. */
export async function greedyAnswers(
  sampler: SamplingClient,
  tokenizer: Tokenizer,
  chats: readonly (readonly ChatMessage[])[],
  maxTokens: number,
): Promise<AnswerScore> {
  const params = new SamplingParams({
    max_tokens: maxTokens,
    temperature: 0,
    stop: stopTokenIds(tokenizer),
  });
  const futures = chats.map((chat) =>
    sampler.sample(generationPrompt(tokenizer, chat.slice(0, -1)), 1, params),
  );
  const answers: GreedyAnswer[] = [];
  for (const [i, future] of futures.entries()) {
    const chat = chats[i] as readonly ChatMessage[];
    const sequence = (await future).sequences[0];
    const answer = tokenizer.decode([...(sequence?.tokens ?? [])], { skip_special_tokens: true });
    const expected = chat[chat.length - 1]?.content ?? '';
    const followsFormat = sequence?.stop_reason === 'stop' && followsAnswerFormat(answer);
    answers.push({
      question: chat[chat.length - 2]?.content ?? '',
      expected,
      answer: answer.trim(),
      followsFormat,
      rightChapter: followsFormat && answerChapter(answer) === answerChapter(expected),
      exact: sequence?.stop_reason === 'stop' && answer.trim() === expected,
    });
  }
  const share = (f: (a: GreedyAnswer) => boolean) =>
    answers.length === 0 ? 0 : answers.filter(f).length / answers.length;
  return {
    answers,
    formatShare: share((a) => a.followsFormat),
    chapterShare: share((a) => a.rightChapter),
    exactShare: share((a) => a.exact),
  };
}
