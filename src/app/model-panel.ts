/**
 * Panel 1, the model: shipped models first (ready without a download; the first is loaded at
 * start), then Hugging Face repos with their size before any download, a progress bar while one
 * downloads, a "cached" badge once it is in the browser, and the engine's own message when a model
 * cannot run on this device. Next to each size, the GPU memory a LoRA run needs on this backend
 * (model-catalog.ts's `fitCheck`), with a warning when it exceeds what the adapter offers; such a
 * model is refused, with the reason, before anything is downloaded. Loading is `Lab.loadModel`;
 * the catalog is model-catalog.ts.
 */
import type { BackendReport } from '../index';
import { byId, el, messageOf, setStatus } from './dom';
import type { Lab, LoadProgressEvent } from './lab';
import {
  HUB_MODELS,
  defaultModel,
  fitCheck,
  isModelCached,
  modelBytes,
  refusalBeforeDownload,
  shippedModels,
  type CatalogModel,
  type FitCheck,
} from './model-catalog';
import { formatBytes } from './train-stats';

const CUSTOM_KEY = 'loops-web:custom-models';

export interface ModelPanelOptions {
  /** A model id to select first (the `?model=` parameter), when listed. */
  readonly wanted: string | null;
  /** The LoRA rank for a fresh adapter (from the train panel). */
  readonly rank: () => number;
  /** Sequences per training step; default: the train panel's batch field (8 when absent). */
  readonly batch?: () => number;
}

export class ModelPanel {
  private readonly list = byId('model-options');
  private readonly load = byId<HTMLButtonElement>('model-load');
  private readonly progress = byId<HTMLProgressElement>('model-progress');
  private readonly status = byId('model-status');
  private readonly cached = new Set<string>();
  /** The engine's backend report (null until it answers, or when it fails). */
  private report: BackendReport | null = null;

  private constructor(
    private readonly lab: Lab,
    private readonly options: ModelPanelOptions,
    private models: CatalogModel[],
  ) {
    this.list.addEventListener('change', () => this.refresh());
    this.load.addEventListener('click', () => {
      const id = this.selected();
      if (id) void this.start(id);
    });
    lab.on('busy', () => this.refresh());
    lab.on('model', () => {
      if (lab.modelId) this.add(lab.modelId);
      this.render(lab.modelId);
    });
    lab.on('run', () => {
      if (lab.run) setStatus(this.status, readyText(lab), 'ok');
      this.refresh();
    });
    initSourceControls(lab, (id) => {
      this.add(id);
      this.render(id);
    });
    lab.on('service', () => void this.readReport());
  }

  /** Asks the engine for its backend (limits, budget) and shows each model's fit. */
  private async readReport(): Promise<void> {
    this.report = await this.lab.service.backend().catch(() => null);
    this.render(this.selected());
  }

  /** The fit of `model` for the run the lab would start now; null when not known. */
  private fit(model: CatalogModel): FitCheck | null {
    if (!this.report) return null;
    return fitCheck(model, this.report, {
      rank: this.options.rank(),
      batch: (this.options.batch ?? batchField)(),
      seq: this.lab.maxLength,
    });
  }

  /** Lists the models, selects the default, and loads it when it needs no download. */
  static async open(lab: Lab, options: ModelPanelOptions): Promise<ModelPanel> {
    const panel = new ModelPanel(lab, options, await catalog(options.wanted));
    await panel.readReport();
    const first = defaultModel(panel.models, options.wanted);
    panel.render(first);
    void markCached(lab.hubUrl, panel.models, panel.cached).then(() =>
      panel.render(panel.selected()),
    );
    const model = panel.models.find((m) => m.id === first);
    if (model && (model.source === 'shipped' || first === options.wanted)) {
      await panel.start(model.id);
    } else if (!model) {
      const text = 'No model is listed; add a Hugging Face repo id under "Model source".';
      setStatus(panel.status, text, 'error');
    }
    return panel;
  }

  private selected(): string | null {
    return this.list.querySelector<HTMLInputElement>('input[name="model"]:checked')?.value ?? null;
  }

  private add(id: string): void {
    if (!this.models.some((m) => m.id === id)) this.models = [...this.models, custom(id)];
  }

  private render(pick: string | null): void {
    this.list.replaceChildren(
      ...this.models.map((m) => optionFor(m, m.id === pick, this.cached.has(m.id), this.fit(m))),
    );
    this.refresh();
  }

  /** The load button's label and state, and the radios' state. */
  private refresh(): void {
    const id = this.selected();
    const model = this.models.find((m) => m.id === id);
    const current = id !== null && id === this.lab.modelId && this.lab.run !== null;
    this.load.disabled = this.lab.busy || !model || current;
    const bytes = model ? modelBytes(model) : null;
    this.load.textContent = current
      ? 'Loaded'
      : model?.source === 'hub' && !this.cached.has(model.id)
        ? `Download and load${bytes ? ` (${formatBytes(bytes)})` : ''}`
        : 'Load model';
    for (const input of this.list.querySelectorAll<HTMLInputElement>('input'))
      input.disabled = this.lab.busy;
  }

  private async start(id: string): Promise<void> {
    const model = this.models.find((m) => m.id === id);
    const fit = model ? this.fit(model) : null;
    if (fit && fit.problems.length > 0) {
      setStatus(this.status, refusalBeforeDownload(id, fit), 'error');
      return;
    }
    this.lab.setBusy(true);
    this.progress.hidden = false;
    this.progress.value = 0;
    setStatus(this.status, `Loading ${id}…`);
    // Progress events cross from the worker on their own channel and may land after the load
    // has resolved: once it has, they are stale and must not cover the "Ready" line.
    let loading = true;
    try {
      await this.lab.loadModel(id, this.options.rank(), (p) => {
        if (loading) showProgress(p, this.progress, this.status);
      });
      loading = false;
      setStatus(this.status, readyText(this.lab), 'ok');
      if (this.models.find((m) => m.id === id)?.source === 'hub') this.cached.add(id);
      this.render(id);
    } catch (error) {
      loading = false;
      setStatus(this.status, refusal(id, error), 'error');
    } finally {
      this.progress.hidden = true;
      this.lab.setBusy(false);
    }
  }
}

async function catalog(wanted: string | null): Promise<CatalogModel[]> {
  let shipped: CatalogModel[] = [];
  try {
    const response = await fetch(`${import.meta.env.BASE_URL}models/models.json`);
    if (response.ok) shipped = shippedModels(await response.json());
  } catch {
    // No manifest (offline before the first visit, or a build without shipped models).
  }
  const customs = readCustom().map(custom);
  const all = [...shipped, ...HUB_MODELS, ...customs];
  if (wanted && !all.some((m) => m.id === wanted)) all.push(custom(wanted));
  return all;
}

function custom(id: string): CatalogModel {
  return { id, label: id, source: 'hub', params: null, description: 'Hugging Face repo' };
}

function readCustom(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(CUSTOM_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

function batchField(): number {
  const field = document.getElementById('set-batch') as HTMLInputElement | null;
  const value = Number(field?.value);
  return Number.isInteger(value) && value >= 1 ? value : 8;
}

function optionFor(
  model: CatalogModel,
  checked: boolean,
  isCached: boolean,
  fit: FitCheck | null,
): HTMLElement {
  const bytes = modelBytes(model);
  const tag =
    model.source === 'shipped'
      ? el('span', { class: 'tag ready', text: 'shipped · no download' })
      : el('span', {
          class: isCached ? 'tag ready' : 'tag',
          text: `${isCached ? 'cached · ' : ''}${bytes ? formatBytes(bytes) : 'size unknown'}`,
        });
  const desc = [
    model.description,
    model.params ? `${(model.params / 1e6).toFixed(model.params < 1e7 ? 1 : 0)} M parameters` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const needs = fit
    ? `needs ≈ ${formatBytes(fit.plan.total)} of memory to train here` +
      (fit.problems.length ? ' · ⚠ will not fit this device' : '')
    : '';
  return el(
    'label',
    { class: 'model-option', title: fit?.problems.join(' ') || undefined },
    el('input', { type: 'radio', name: 'model', value: model.id, checked }),
    el('span', { class: 'name', text: model.label }),
    tag,
    el('span', { class: 'desc', text: [desc, needs].filter(Boolean).join(' · ') }),
  );
}

async function markCached(hubUrl: string, models: readonly CatalogModel[], into: Set<string>) {
  if (typeof caches === 'undefined') return;
  for (const m of models) {
    if (m.source === 'hub' && (await isModelCached(caches, hubUrl, m.id).catch(() => false)))
      into.add(m.id);
  }
}

function showProgress(p: LoadProgressEvent, bar: HTMLProgressElement, status: HTMLElement): void {
  if (p.phase === 'download') {
    const total = p.total ?? 0;
    bar.max = total || 1;
    bar.value = total ? p.loaded : 0;
    setStatus(
      status,
      `Downloading ${p.file ?? ''}: ${formatBytes(p.loaded)}${total ? ` of ${formatBytes(total)}` : ''}`,
    );
  } else if (p.phase === 'weights') {
    bar.max = p.total ?? 1;
    bar.value = p.loaded;
    setStatus(status, `Preparing weights (${p.loaded}${p.total ? ` of ${p.total}` : ''})…`);
  }
}

function readyText(lab: Lab): string {
  const info = lab.run?.get_info();
  if (!info) return '';
  return `Ready: ${info.base_model}, context ${info.max_seq_len} tokens, vocabulary ${lab.tokenizer?.vocabSize ?? '?'}.`;
}

/** The engine's reason, worded for a person at the keyboard. */
function refusal(id: string, error: unknown): string {
  const name =
    (error as { name?: string; error_class?: string }).error_class ?? (error as Error).name;
  if (name === 'UnsupportedModelError') return `${id} cannot run here. ${messageOf(error)}`;
  if (name === 'NetworkError') return `Could not download ${id}: ${messageOf(error)}`;
  return `Could not load ${id}: ${messageOf(error)}`;
}

function initSourceControls(lab: Lab, add: (id: string) => void): void {
  const hub = byId<HTMLInputElement>('hub-url');
  hub.value = lab.hubUrl;
  byId('hub-apply').addEventListener('click', () => {
    const url = new URL(location.href);
    url.searchParams.set('hub', hub.value.trim());
    location.assign(url.href);
  });
  const input = byId<HTMLInputElement>('custom-model');
  byId('custom-add').addEventListener('click', () => {
    const id = input.value.trim();
    if (!/^[\w.-]+\/[\w.-]+$/.test(id)) {
      setStatus(byId('model-status'), `"${id}" is not a repo id; write it as org/name.`, 'error');
      return;
    }
    localStorage.setItem(CUSTOM_KEY, JSON.stringify([...new Set([...readCustom(), id])]));
    add(id);
  });
}
