// Before the browser tests: a fixture model in the Hugging Face hub's URL layout under
// test-results/hub/, served by Vite on 127.0.0.1, so pages load it through the real hub path
// (fetch with progress, Cache Storage) without any network.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFixtureModelTo } from '../helpers/fixture-model-dir';

export const HUB_DIR = 'test-results/hub';
export const HUB_REPO = 'fixture/tiny-llama';

export default function globalSetup(): void {
  rmSync(HUB_DIR, { recursive: true, force: true });
  writeFixtureModelTo(join(HUB_DIR, HUB_REPO, 'resolve', 'main'));
}
