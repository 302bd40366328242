/**
 * The answer format the whaling chat set teaches (public/datasets/README.md):
 *
 *   Chapter 42 is titled: The Whiteness of The Whale.
 *
 * One line: "Chapter", the chapter number, "is titled:", the title as the book's table of contents
 * spells it, ending in its own ".", "!" or "?" (a "." is added to the one title without any). The
 * dataset generator writes answers with `chapterAnswer`; the examples and scripts/eval-lora.ts
 * score the model's greedy answers with `followsAnswerFormat`. Browser-safe (no Node imports).
 */

const FORMAT = /^Chapter (\d{1,3}) is titled: ([^\n]{1,120}[.!?])$/;

/** The taught answer for a chapter. */
export function chapterAnswer(number: number, title: string): string {
  return `Chapter ${number} is titled: ${/[.!?]$/.test(title) ? title : `${title}.`}`;
}

/** Whether `text` (an answer with special tokens removed) is exactly one answer in the format. */
export function followsAnswerFormat(text: string): boolean {
  return FORMAT.test(text.trim());
}

/** The chapter number an answer in the format names, or null when it is not in the format. */
export function answerChapter(text: string): number | null {
  const m = FORMAT.exec(text.trim());
  return m ? Number(m[1]) : null;
}
