/**
 * The whaling chat set: questions about Moby-Dick's chapter titles, each answered in one fixed
 * format (examples/lib/answer-format.ts), as `{"messages": [user, assistant]}` lines. The base
 * models were pretrained on the book's prose, never on questions and answers: what LoRA teaches is
 * the format (and some recall), which shows in greedy answers after a few dozen steps.
 *
 * Questions go both ways: number → title ("What is chapter 42 of Moby-Dick called?") and
 * title → number ('Which chapter of Moby-Dick is called "The Whiteness of The Whale"?'); every
 * answer is "Chapter 42 is titled: The Whiteness of The Whale.".
 *
 * Split by chapter, so no held-out question (nor its answer) is in training: chapters whose number
 * ends in 8 (8, 18, …, 128: 13 chapters) are held out. They include the 7 chapters the pretraining
 * corpus held out (8, 28, …, 128; scripts/pretrain/corpus.ts). Chapters whose title is longer than
 * 10 words (56, 57, 73) are left out to keep answers short. Chapters 26 and 27 share a title, so
 * only number → title questions are asked about them.
 *
 * Training lines: 4 questions per chapter, shuffled with a fixed seed. Held-out lines: 3 per
 * chapter (the template left out rotates), in chapter order.
 */
import { createRng } from '../../src/runtime/prng';
import { chapterAnswer } from '../../examples/lib/answer-format';
import type { Chapter } from './moby-dick-chapters';

export interface ChatLine {
  readonly messages: readonly [
    { readonly role: 'user'; readonly content: string },
    { readonly role: 'assistant'; readonly content: string },
  ];
}

export interface ChatSplit {
  readonly train: readonly ChatLine[];
  readonly heldout: readonly ChatLine[];
  /** Chapter numbers of each split. */
  readonly trainChapters: readonly number[];
  readonly heldoutChapters: readonly number[];
}

export const MAX_TITLE_WORDS = 10;
export const SHUFFLE_SEED = 42;

/** Held out: chapters whose number ends in 8. */
export function isHeldoutChapter(number: number): boolean {
  return number % 10 === 8;
}

/** The title without its final period, for quoting inside a question ("Hark!" keeps its "!"). */
function quoted(title: string): string {
  return `"${title.replace(/\.$/, '')}"`;
}

const NUMBER_TO_TITLE = [
  (c: Chapter) => `What is chapter ${c.number} of Moby-Dick called?`,
  (c: Chapter) => `What is the title of chapter ${c.number} of Moby-Dick?`,
];
const TITLE_TO_NUMBER = [
  (c: Chapter) => `Which chapter of Moby-Dick is called ${quoted(c.title)}?`,
  (c: Chapter) => `In Moby-Dick, which chapter is titled ${quoted(c.title)}?`,
];

/** Every question the set asks about `chapter` (reverse questions only for unique titles). */
function questions(chapter: Chapter, uniqueTitle: boolean): string[] {
  const templates = uniqueTitle ? [...NUMBER_TO_TITLE, ...TITLE_TO_NUMBER] : NUMBER_TO_TITLE;
  return templates.map((t) => t(chapter));
}

function line(question: string, chapter: Chapter): ChatLine {
  return {
    messages: [
      { role: 'user', content: question },
      { role: 'assistant', content: chapterAnswer(chapter.number, chapter.title) },
    ],
  };
}

/** Builds both splits from the chapter list; the same list always gives the same lines. */
export function buildWhalingChat(chapters: readonly Chapter[]): ChatSplit {
  const titleCount = new Map<string, number>();
  for (const c of chapters) titleCount.set(c.title, (titleCount.get(c.title) ?? 0) + 1);
  const kept = chapters.filter((c) => c.title.split(' ').length <= MAX_TITLE_WORDS);
  const train: ChatLine[] = [];
  const heldout: ChatLine[] = [];
  let heldoutIndex = 0;
  for (const chapter of kept) {
    const asked = questions(chapter, titleCount.get(chapter.title) === 1);
    if (!isHeldoutChapter(chapter.number)) {
      for (const q of asked) train.push(line(q, chapter));
      continue;
    }
    const skip = heldoutIndex++ % asked.length;
    asked.forEach((q, i) => {
      if (i !== skip) heldout.push(line(q, chapter));
    });
  }
  return {
    train: shuffled(train, SHUFFLE_SEED),
    heldout,
    trainChapters: kept.filter((c) => !isHeldoutChapter(c.number)).map((c) => c.number),
    heldoutChapters: kept.filter((c) => isHeldoutChapter(c.number)).map((c) => c.number),
  };
}

/** Fisher–Yates with the repo's seeded PRNG (src/runtime/prng.ts). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rng = createRng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
