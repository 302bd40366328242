/**
 * Every file of public/datasets, built in memory: name → text. Pure apart from reading the
 * Moby-Dick table of contents; scripts/datasets/build.ts writes the files.
 */
import { loadChapters } from './moby-dick-chapters';
import { datasetsReadme } from './readme';
import { buildWhalePrompts } from './whale-prompts';
import { buildWhalingChat } from './whaling-chat';

export const DATASET_FILES = {
  chatTrain: 'whaling-chat.train.jsonl',
  chatHeldout: 'whaling-chat.heldout.jsonl',
  rlPrompts: 'whale-sentences.prompts.jsonl',
  readme: 'README.md',
} as const;

function jsonl(lines: readonly unknown[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

/** The files' contents; the same inputs always give the same bytes. */
export function buildDatasets(contentsPath?: string): Map<string, string> {
  const chat = buildWhalingChat(loadChapters(contentsPath));
  const prompts = buildWhalePrompts();
  return new Map([
    [DATASET_FILES.chatTrain, jsonl(chat.train)],
    [DATASET_FILES.chatHeldout, jsonl(chat.heldout)],
    [DATASET_FILES.rlPrompts, jsonl(prompts)],
    [DATASET_FILES.readme, datasetsReadme(chat, prompts)],
  ]);
}
