/**
 * The code-reward worker: a dedicated worker, apart from the page and the engine worker, that
 * holds one `RewardSandbox` (QuickJS in WebAssembly) and answers the page's requests one at a
 * time: `init` with the student's source, then `score` per group. A student's code cannot hang the
 * page or the engine: QuickJS stops it at each call's deadline, and the page ends this whole
 * worker if an answer is late anyway (code-reward.ts).
 */
import variant from '@jitl/quickjs-singlefile-browser-release-sync';
import { newQuickJSWASMModuleFromVariant } from 'quickjs-emscripten-core';
import { CodeRewardError, RewardSandbox } from './reward-sandbox';
import type { RewardRequest, RewardResponse } from './code-reward';

const quickjs = newQuickJSWASMModuleFromVariant(variant);
let sandbox: RewardSandbox | null = null;

self.onmessage = async (event: MessageEvent<RewardRequest>) => {
  const request = event.data;
  let response: RewardResponse;
  try {
    if (request.type === 'init') {
      sandbox?.dispose();
      sandbox = null;
      sandbox = RewardSandbox.create(await quickjs, request.source, request.limits);
      response = { id: request.id, rewards: [] };
    } else {
      if (!sandbox) throw new CodeRewardError('The reward code was not loaded.', null);
      response = { id: request.id, rewards: sandbox.score(request.prompt, request.completions) };
    }
  } catch (error) {
    const line = error instanceof CodeRewardError ? error.line : null;
    response = { id: request.id, error: { message: (error as Error).message, line } };
  }
  self.postMessage(response);
};
