/**
 * The RL curve: the mean reward of each step with its spread (mean ± one standard deviation of
 * the step's rewards, a shaded band) on the left axis, and the policy loss per token on the right,
 * drawn with uPlot from the Lab's reward history. Redrawn at most once per animation frame; with
 * no steps only the sentence shows (no stale axes), as in loss-chart.ts.
 */
import uPlot from 'uplot';
import { byId } from './dom';
import type { Lab } from './lab';
import type { RewardPoint } from './last-run';
import { STEP_TICKS } from './loss-chart';

const HEIGHT = 240;

/** uPlot's columns: steps, mean − std, mean, mean + std, loss per token. */
export function rewardColumns(points: readonly RewardPoint[]): uPlot.AlignedData {
  return [
    points.map((p) => p.step),
    points.map((p) => p.mean - p.std),
    points.map((p) => p.mean),
    points.map((p) => p.mean + p.std),
    points.map((p) => p.loss),
  ];
}

export function initRewardChart(lab: Lab): void {
  const box = byId('rl-chart');
  const empty = byId('rl-chart-empty');
  const width = () => Math.max(280, box.clientWidth);
  const spread = { stroke: '#7fb3c8', width: 1, points: { show: false } };
  const plot = new uPlot(
    {
      width: width(),
      height: HEIGHT,
      scales: { x: { time: false } },
      axes: [
        { label: 'RL step', stroke: '#4a5663', grid: { stroke: '#e3e8ee' }, incrs: STEP_TICKS },
        { label: 'reward', stroke: '#4a5663', grid: { stroke: '#e3e8ee' }, size: 56 },
        { label: 'loss / token', scale: 'loss', side: 1, stroke: '#b4530a', grid: { show: false } },
      ],
      series: [
        { label: 'step' },
        { ...spread, label: 'mean − std' },
        { label: 'mean reward', stroke: '#0b4f6c', width: 2, points: { show: true, size: 5 } },
        { ...spread, label: 'mean + std' },
        { label: 'loss / token', scale: 'loss', stroke: '#b4530a', width: 1.5, dash: [6, 4] },
      ],
      bands: [{ series: [3, 1], fill: 'rgba(11, 79, 108, 0.12)' }],
      legend: { live: false },
    },
    rewardColumns(lab.rlHistory),
    box,
  );
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const points = lab.rlHistory;
      plot.setData(rewardColumns(points));
      const none = points.length === 0;
      empty.hidden = !none;
      plot.root.style.visibility = none ? 'hidden' : '';
      box.dataset['points'] = String(points.length);
      box.dataset['history'] = JSON.stringify(points);
      const first = points[0];
      const last = points[points.length - 1];
      box.setAttribute(
        'aria-label',
        first && last
          ? `Reward curve: mean ${first.mean.toFixed(3)} at step ${first.step}, ${last.mean.toFixed(3)} at step ${last.step}`
          : 'Reward curve: no steps yet',
      );
    });
  };
  redraw();
  lab.on('rl-history', redraw);
  lab.on('mode', () => plot.setSize({ width: width(), height: HEIGHT }));
  new ResizeObserver(() => plot.setSize({ width: width(), height: HEIGHT })).observe(box);
}
