/**
 * Panel 4, "Try it": one prompt answered by the base model and by the tuned adapter side by side,
 * with the same sampling settings and seed, so the difference is the training. The tuned side is a
 * snapshot of the run as it is now (`save_weights_and_get_sampling_client`); the base side is the
 * model without an adapter. Chat-formatted prompts go through the tokenizer's chat template
 * (dataset-tokens.ts), as the training data did.
 */
import { ModelInput, SamplingParams, type SamplingClient } from '../index';
import { parseDataset, promptOf } from './dataset-parse';
import { chatPromptTokens, stopTokenIds } from './dataset-tokens';
import { byId, el, messageOf, numberValue } from './dom';
import type { Lab } from './lab';

const SEED = 1234;

export function initTryPanel(lab: Lab): void {
  const prompt = byId<HTMLTextAreaElement>('try-prompt');
  const chat = byId<HTMLInputElement>('try-chat');
  const go = byId<HTMLButtonElement>('try-go');
  const base = byId('try-base');
  const tuned = byId('try-tuned');
  let running = false;
  let suggested = '';

  const sync = () => {
    go.disabled = running || !lab.run;
    byId('try-tuned-h').textContent = lab.view().tunedHeading;
  };

  lab.on('data', () => {
    const data = lab.data;
    if (!data) return;
    // A question the adapter never trained on: the first held-out example when the data has a
    // held-out file, else the last example.
    const heldout = data.source.heldoutText ? parseDataset(data.source.heldoutText).examples : [];
    const example = heldout[0] ?? data.parsed.examples[data.parsed.examples.length - 1];
    if (example && (prompt.value === '' || prompt.value === suggested)) {
      suggested = promptOf(example);
      prompt.value = suggested;
    }
    chat.checked = data.parsed.format === 'chat' || data.parsed.format === 'mixed';
  });
  for (const event of ['run', 'history', 'busy'] as const) lab.on(event, sync);

  go.addEventListener('click', async () => {
    const run = lab.run;
    const tokenizer = lab.tokenizer;
    if (!run || !tokenizer) return;
    running = true;
    sync();
    const tokens = chat.checked
      ? chatPromptTokens(tokenizer, prompt.value)
      : tokenizer.encode(prompt.value);
    const params = new SamplingParams({
      max_tokens: numberValue(byId<HTMLInputElement>('try-max'), 32),
      temperature: numberValue(byId<HTMLInputElement>('try-temp'), 0),
      top_p: numberValue(byId<HTMLInputElement>('try-topp'), 1),
      top_k: numberValue(byId<HTMLInputElement>('try-topk'), -1),
      seed: SEED,
      stop: stopTokenIds(tokenizer),
    });
    const answer = async (
      target: HTMLElement,
      client: () => Promise<SamplingClient>,
      own: boolean,
    ) => {
      target.replaceChildren('Generating…');
      target.setAttribute('aria-busy', 'true');
      const started = performance.now();
      let sampler: SamplingClient | null = null;
      try {
        sampler = await client();
        const result = await sampler.sample(ModelInput.from_ints(tokens), 1, params);
        const seq = result.sequences[0];
        // Special tokens stay visible (a base model that answers "<|im_start|>" has not learnt the
        // format yet); the stop token that ended the answer is dropped.
        const ids = seq ? [...seq.tokens] : [];
        if (seq?.stop_reason === 'stop') ids.pop();
        const text = tokenizer.decode(ids);
        const seconds = (performance.now() - started) / 1000;
        target.replaceChildren(
          text.trim() === ''
            ? el('em', { text: `(only blank space: ${JSON.stringify(text).slice(1, 41)})` })
            : text,
          el('small', {
            text: `${seq?.tokens.length ?? 0} tokens in ${seconds.toFixed(1)} s${seq?.stop_reason === 'length' ? ' · hit max tokens' : ''}`,
          }),
        );
      } catch (error) {
        target.replaceChildren(el('span', { class: 'error', text: messageOf(error) }));
      } finally {
        target.removeAttribute('aria-busy');
        if (own) await sampler?.close().catch(() => undefined);
      }
    };
    try {
      await answer(base, () => lab.baseSamplingClient(), false);
      await answer(tuned, async () => await run.save_weights_and_get_sampling_client(), true);
    } finally {
      running = false;
      sync();
    }
  });
  sync();
}
