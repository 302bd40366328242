/**
 * The lab's entry: reads the page's parameters, starts the engine through the public client and
 * wires the five panels (model, data, train, try it, checkpoints) to one shared `Lab`. The train
 * panel has two modes: supervised (train-panel.ts) and reinforcement learning (rl-panel.ts).
 *
 * Parameters: `?backend=webgpu|wasm|cpu` (default auto), `?hub=<url>` (Hugging Face hub or a local
 * mirror), `?model=<id>` (a model to select and load first).
 */
import './style.css';
import './panels.css';
import './rl.css';
import { CheckpointsPanel } from './checkpoints-panel';
import { initDataPanel } from './data-panel';
import { showBackend, showEngineError } from './engine-status';
import { Lab } from './lab';
import { ModelPanel } from './model-panel';
import { initOffline } from './offline';
import { initRemoteSettings } from './remote-settings';
import { initResumeBanner } from './resume-banner';
import { RlPanel } from './rl-panel';
import { TrainPanel } from './train-panel';
import { initTryPanel } from './try-panel';

const BACKENDS = ['auto', 'webgpu', 'wasm', 'cpu'] as const;
type Backend = (typeof BACKENDS)[number];

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('backend') as Backend | null;
  const backend = wanted && BACKENDS.includes(wanted) ? wanted : 'auto';
  const hub = new URL(params.get('hub') || 'https://huggingface.co', location.href).href.replace(
    /\/+$/,
    '',
  );
  const lab = new Lab(hub, backend);
  initOffline();
  try {
    showBackend(await lab.service.backend());
  } catch (error) {
    showEngineError(error);
    return;
  }
  initRemoteSettings(lab);
  const train = new TrainPanel(lab);
  new RlPanel(lab);
  initTryPanel(lab);
  new CheckpointsPanel(lab);
  const data = await initDataPanel(lab);
  const resume = initResumeBanner(lab, data);
  await ModelPanel.open(lab, { wanted: params.get('model'), rank: () => train.rank() });
  await resume;
  document.body.dataset['ready'] = 'true';
}

void main();
