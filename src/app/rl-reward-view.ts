/**
 * The reward editor of RL mode: the menu of terms (reward-menu.ts), one row per term with its
 * settings and weight, or JavaScript code run in the reward worker (code-reward.ts). It hands the
 * RL session the reward as it is at each step; a term or code that cannot be used is a
 * `RewardError` (the session pauses and shows it). The code's worker is kept while the code is
 * unchanged and made again after an edit or after the watchdog ended it.
 */
import { RewardError, type GroupReward } from '../recipes/rl-step';
import { CodeReward } from './code-reward';
import { byId, el } from './dom';
import {
  DEFAULT_MENU,
  TERM_LABELS,
  describeMenu,
  menuReward,
  newTerm,
  type RewardTerm,
  type TermKind,
} from './reward-menu';
import { DEFAULT_LIMITS } from './reward-sandbox';

export const DEFAULT_CODE = `(prompt, completion) => {
  // 1 point for the word "whale", 1 for ending with a period.
  let reward = 0;
  if (/whale/i.test(completion)) reward += 0.5;
  if (completion.trim().endsWith('.')) reward += 0.5;
  return reward;
}`;

export class RewardView {
  private terms: RewardTerm[] = [...DEFAULT_MENU];
  private readonly list = byId('reward-terms');
  private readonly source = byId<HTMLTextAreaElement>('reward-source');
  private code: { source: string; reward: CodeReward } | null = null;

  constructor() {
    this.source.value = DEFAULT_CODE;
    byId('reward-limit').textContent = String(DEFAULT_LIMITS.perCallMs);
    for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="reward-kind"]'))
      radio.addEventListener('change', () => this.showKind());
    byId('reward-add-go').addEventListener('click', () => {
      this.terms.push(newTerm(byId<HTMLSelectElement>('reward-add').value as TermKind));
      this.render();
    });
    this.render();
    this.showKind();
  }

  kind(): 'menu' | 'code' {
    return document.querySelector<HTMLInputElement>('input[name="reward-kind"]:checked')?.value ===
      'code'
      ? 'code'
      : 'menu';
  }

  /** The reward in words, for the status line. */
  describe(): string {
    return this.kind() === 'code' ? 'your JavaScript reward' : describeMenu(this.terms);
  }

  /** The reward as it is now; a `RewardError` when it cannot be used. */
  async reward(): Promise<GroupReward> {
    if (this.kind() === 'menu') {
      let score: (completion: string) => number;
      try {
        score = menuReward(this.terms);
      } catch (error) {
        throw new RewardError((error as Error).message, { cause: error });
      }
      return (_prompt, completions) => completions.map(score);
    }
    const source = this.source.value;
    if (this.code && (this.code.source !== source || !this.code.reward.alive)) {
      this.code.reward.close();
      this.code = null;
    }
    this.code ??= { source, reward: await CodeReward.start(source) };
    return this.code.reward.score;
  }

  setEnabled(enabled: boolean): void {
    for (const node of byId('rl-view').querySelectorAll<HTMLInputElement>(
      'fieldset.reward input, fieldset.reward select, fieldset.reward button, fieldset.reward textarea',
    ))
      node.disabled = !enabled;
  }

  private showKind(): void {
    const code = this.kind() === 'code';
    byId('reward-menu').hidden = code;
    byId('reward-code').hidden = !code;
  }

  private render(): void {
    this.list.replaceChildren(...this.terms.map((term, i) => this.row(term, i)));
  }

  private row(term: RewardTerm, i: number): HTMLElement {
    const set = (patch: Partial<RewardTerm>) => {
      this.terms[i] = { ...this.terms[i], ...patch } as RewardTerm;
    };
    const field = (
      label: string,
      value: string | number,
      type: string,
      apply: (v: string) => void,
    ) => {
      const input = el('input', {
        type,
        value: String(value),
        'aria-label': `Term ${i + 1} ${label}`,
      });
      if (type === 'number') input.step = 'any';
      input.addEventListener('change', () => apply(input.value));
      return input;
    };
    const settings: HTMLElement[] = [];
    if (term.kind === 'contains')
      settings.push(field('word', term.word, 'text', (v) => set({ word: v })));
    if (term.kind === 'regex')
      settings.push(field('pattern', term.pattern, 'text', (v) => set({ pattern: v })));
    if (term.kind === 'ends')
      settings.push(field('marks', term.marks, 'text', (v) => set({ marks: v })));
    if (term.kind === 'length') {
      settings.push(field('min', term.min, 'number', (v) => set({ min: Number(v) })));
      settings.push(field('max', term.max, 'number', (v) => set({ max: Number(v) })));
    }
    const remove = el('button', {
      type: 'button',
      'aria-label': `Remove term ${i + 1}`,
      text: '×',
    });
    remove.addEventListener('click', () => {
      this.terms.splice(i, 1);
      this.render();
    });
    return el(
      'li',
      { class: 'term' },
      field('weight', term.weight, 'number', (v) => set({ weight: Number(v) })),
      el('span', { text: `× ${TERM_LABELS[term.kind]}` }),
      ...settings,
      remove,
    );
  }
}
