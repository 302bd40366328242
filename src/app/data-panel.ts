/**
 * Panel 2, the data: the demo sets one click away, or pasted / uploaded JSONL or text. It shows
 * what will be trained: counts, every skipped line with its number and reason, and a token
 * preview where supervised tokens (the answer) are green and prompt tokens (masked) are grey.
 * Parsing and tokenizing are dataset-parse.ts and dataset-tokens.ts; the Lab keeps the result.
 */
import { BUILT_IN_SETS, mergeDemoSets, parseDemoManifest, type DemoSet } from './demo-sets';
import type { TokenSequence } from './dataset-tokens';
import { byId, el, messageOf, setStatus } from './dom';
import type { Lab } from './lab';
import type { DatasetRef } from './last-run';

const PREVIEW_EXAMPLES = 3;
const MAX_ISSUES_SHOWN = 200;

export interface DataPanel {
  /** Loads the data a resumed run used. */
  use(ref: DatasetRef): Promise<void>;
}

export async function initDataPanel(lab: Lab): Promise<DataPanel> {
  const sets = await demoSets();
  const buttons = byId('demo-sets');
  const text = byId<HTMLTextAreaElement>('data-text');
  const summary = byId('data-summary');

  const useDemo = async (set: DemoSet) => {
    setStatus(summary, `Loading ${set.title}…`);
    try {
      const [train, heldout] = await Promise.all([
        fetchText(set.train),
        set.heldout ? fetchText(set.heldout) : Promise.resolve(null),
      ]);
      lab.setSource({
        ref: { source: 'demo', id: set.id },
        label: set.title,
        trainText: train,
        heldoutText: heldout,
      });
    } catch (error) {
      setStatus(summary, `Could not load ${set.title}: ${messageOf(error)}`, 'error');
    }
  };
  const useText = (value: string, name: string) =>
    lab.setSource({
      ref: { source: 'text', name, text: value },
      label: name,
      trainText: value,
      heldoutText: null,
    });

  buttons.replaceChildren(
    ...sets.map((set) => {
      const b = el(
        'button',
        { type: 'button', 'aria-pressed': 'false', 'data-set': set.id },
        set.title,
        el('small', { text: set.description }),
      );
      b.addEventListener('click', () => void useDemo(set));
      return b;
    }),
  );
  byId('data-use').addEventListener('click', () => useText(text.value, 'pasted text'));
  byId<HTMLInputElement>('data-file').addEventListener('change', async (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    text.value = await file.text();
    useText(text.value, file.name);
  });
  lab.on('data', () => render(lab));

  return {
    async use(ref) {
      if (ref.source === 'text') {
        text.value = ref.text;
        useText(ref.text, ref.name);
        return;
      }
      const set = sets.find((s) => s.id === ref.id);
      if (set) await useDemo(set);
    },
  };
}

async function demoSets(): Promise<DemoSet[]> {
  try {
    const response = await fetch(`${import.meta.env.BASE_URL}datasets/datasets.json`);
    const type = response.headers.get('content-type') ?? '';
    if (response.ok && type.includes('json'))
      return mergeDemoSets(BUILT_IN_SETS, parseDemoManifest(await response.json()));
  } catch {
    // No manifest: the built-in list.
  }
  return [...BUILT_IN_SETS];
}

async function fetchText(file: string): Promise<string> {
  const response = await fetch(`${import.meta.env.BASE_URL}datasets/${file}`);
  if (!response.ok) throw new Error(`datasets/${file} answered ${response.status}`);
  return response.text();
}

function render(lab: Lab): void {
  const summary = byId('data-summary');
  const source = lab.source;
  for (const b of byId('demo-sets').querySelectorAll('button')) {
    const on = source?.ref.source === 'demo' && source.ref.id === b.dataset['set'];
    b.setAttribute('aria-pressed', String(on));
  }
  const data = lab.data;
  renderIssues(data?.parsed.issues ?? []);
  const preview = byId('data-preview');
  if (!source) return;
  if (!data) {
    setStatus(summary, `${source.label}: the tokens appear once a model is loaded.`);
    preview.hidden = true;
    return;
  }
  const kinds = data.parsed.format === 'mixed' ? 'mixed' : data.parsed.format;
  const tokens = data.sequences.reduce((n, s) => n + s.tokens.length, 0);
  const trained = data.sequences.reduce((n, s) => n + s.supervised.filter(Boolean).length, 0);
  const cut = data.sequences.filter((s) => s.truncated).length;
  const parts = [
    `${source.label}: ${data.parsed.examples.length} ${kinds} examples`,
    `${data.train.length} to train, ${data.heldoutTotal} held out` +
      (data.heldoutTotal > data.heldout.length ? ` (${data.heldout.length} measured)` : ''),
    `${tokens.toLocaleString('en')} tokens, ${trained.toLocaleString('en')} trained`,
  ];
  if (cut) parts.push(`${cut} cut to the max length`);
  if (data.empty) parts.push(`${data.empty} with nothing left to train`);
  if (data.parsed.issues.length) parts.push(`${data.parsed.issues.length} lines skipped`);
  const tone = data.train.length === 0 ? 'error' : 'ok';
  setStatus(summary, `${parts.join(' · ')}.`, tone);
  renderPreview(lab, data.sequences.slice(0, PREVIEW_EXAMPLES));
}

function renderIssues(issues: readonly { line: number; message: string }[]): void {
  const box = byId<HTMLDetailsElement>('data-issues-box');
  box.hidden = issues.length === 0;
  byId('data-issues-summary').textContent =
    `${issues.length} line${issues.length === 1 ? '' : 's'} skipped (click for the reasons)`;
  byId('data-issues').replaceChildren(
    ...issues
      .slice(0, MAX_ISSUES_SHOWN)
      .map((i) => el('li', { text: `Line ${i.line}: ${i.message}` })),
  );
}

function renderPreview(lab: Lab, sequences: readonly TokenSequence[]): void {
  const preview = byId('data-preview');
  const tokenizer = lab.tokenizer;
  if (!tokenizer || sequences.length === 0) {
    preview.hidden = true;
    return;
  }
  const legend = el(
    'p',
    { class: 'legend' },
    el('span', {}, el('span', { class: 'tok prompt', text: 'prompt' }), ' masked: not trained'),
    el(
      'span',
      {},
      el('span', { class: 'tok sup', text: 'answer' }),
      ' supervised: the model learns these',
    ),
  );
  const blocks = sequences.map((seq, n) => {
    const spans = seq.tokens.map((id, i) =>
      el('span', {
        class: seq.supervised[i] ? 'tok sup' : 'tok prompt',
        title: `token ${id}`,
        text: visible(tokenizer.decode([id])),
      }),
    );
    return el(
      'p',
      { class: 'tokens', 'aria-label': `Example ${n + 1} tokens` },
      ...spans,
      seq.truncated ? el('span', { class: 'note', text: ' … cut here' }) : null,
    );
  });
  preview.replaceChildren(el('h3', { text: 'Token preview' }), legend, ...blocks);
  preview.hidden = false;
}

/** Whitespace made visible in the preview: newline ↵, space ·. */
function visible(text: string): string {
  return text.replace(/\n/g, '↵').replace(/ /g, '·') || '∅';
}
