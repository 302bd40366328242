/**
 * What a student reads in RL mode: the latest group's completions, each with its reward, its
 * advantage (green above the group's mean, red below, grey for a group with no signal) and the
 * policy version it was sampled from; and "before / after" answers to the same prompts with the
 * same seed, from the policy before the session and after it.
 */
import type { RlGroup, RlStepResult } from '../recipes/rl-step';
import { el } from './dom';

export interface CompareRow {
  readonly prompt: string;
  readonly before: { readonly text: string; readonly reward: number } | null;
  readonly after: { readonly text: string; readonly reward: number } | null;
}

const fmt = (x: number) => (x >= 0 ? ' ' : '') + x.toFixed(2);

/** The completions table of the step's last group. */
export function groupTable(result: RlStepResult): HTMLElement | null {
  const group = result.groups[result.groups.length - 1];
  if (!group) return null;
  const index = result.groups.length;
  const caption = el(
    'caption',
    {},
    `Step ${result.step}, group ${index} of ${result.groups.length}: “${group.prompt}”`,
    group.skipped ? el('small', { text: ' (all rewards equal: no signal, not trained on)' }) : null,
  );
  const head = el(
    'thead',
    {},
    el(
      'tr',
      {},
      ...['#', 'Completion', 'Reward', 'Advantage', 'Policy'].map((h) =>
        el('th', { scope: 'col', text: h }),
      ),
    ),
  );
  const rows = group.samples.map((s, i) =>
    el(
      'tr',
      { class: tone(group, s.advantage) },
      el('td', { text: String(i + 1) }),
      el('td', { class: 'completion', text: s.text.trim() || '(nothing)' }),
      el('td', { class: 'figure', text: fmt(s.reward) }),
      el('td', { class: 'figure adv', text: fmt(s.advantage) }),
      el('td', { class: 'figure', text: `v${group.policyVersion}` }),
    ),
  );
  return el(
    'table',
    { id: 'rl-group', class: 'rl-table' },
    caption,
    head,
    el('tbody', {}, ...rows),
  );
}

function tone(group: RlGroup, advantage: number): string {
  if (group.skipped || advantage === 0) return 'adv-zero';
  return advantage > 0 ? 'adv-pos' : 'adv-neg';
}

/** The before / after table. */
export function compareTable(rows: readonly CompareRow[], seed: number): HTMLElement {
  const cell = (x: CompareRow['before']) =>
    el(
      'td',
      { class: 'completion' },
      x ? x.text.trim() || '(nothing)' : '…',
      x ? el('small', { text: ` reward ${x.reward.toFixed(2)}` }) : null,
    );
  return el(
    'table',
    { id: 'rl-compare', class: 'rl-table' },
    el('caption', { text: `Before and after this session: the same prompts, seed ${seed}` }),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['Prompt', 'Before', 'After'].map((h) => el('th', { scope: 'col', text: h })),
      ),
    ),
    el(
      'tbody',
      {},
      ...rows.map((r) => el('tr', {}, el('td', { text: r.prompt }), cell(r.before), cell(r.after))),
    ),
  );
}
