/**
 * The live loss curve: train loss per step and held-out loss where it was measured, drawn with
 * uPlot (small, fast, canvas). It redraws from the Lab's history on every 'history' event, at most
 * once per animation frame, and follows its container's width.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { byId } from './dom';
import type { Lab } from './lab';
import type { LossPoint } from './last-run';

const HEIGHT = 260;
/** Whole-step tick spacings for the x axis. */
export const STEP_TICKS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];

/** uPlot's columns: steps, train losses, held-out losses (null where not measured). */
export function chartColumns(
  history: readonly LossPoint[],
): [number[], (number | null)[], (number | null)[]] {
  return [history.map((p) => p.step), history.map((p) => p.train), history.map((p) => p.heldout)];
}

export function initLossChart(lab: Lab): void {
  const box = byId('loss-chart');
  const width = () => Math.max(280, box.clientWidth);
  const options: uPlot.Options = {
    width: width(),
    height: HEIGHT,
    scales: { x: { time: false } },
    axes: [
      { label: 'step', stroke: '#4a5663', grid: { stroke: '#e3e8ee' }, incrs: STEP_TICKS },
      { label: 'loss (nats/token)', stroke: '#4a5663', grid: { stroke: '#e3e8ee' }, size: 56 },
    ],
    series: [
      { label: 'step' },
      { label: 'train', stroke: '#0b4f6c', width: 2, spanGaps: true, points: { show: false } },
      {
        label: 'held-out',
        stroke: '#b4530a',
        width: 2,
        dash: [6, 4],
        spanGaps: true,
        points: { show: true, size: 6, fill: '#b4530a' },
      },
    ],
    legend: { live: false },
  };
  const plot = new uPlot(options, chartColumns(lab.history), box);
  // With no points there is nothing to draw: no grid, no axis (uPlot keeps the last run's scale,
  // which read as a stale step range), only the sentence saying where the curve will appear.
  const showEmpty = () => {
    const empty = lab.history.length === 0;
    byId('chart-empty').hidden = !empty;
    plot.root.style.visibility = empty ? 'hidden' : '';
    box.dataset['empty'] = String(empty);
  };
  showEmpty();

  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      plot.setData(chartColumns(lab.history));
      box.setAttribute('aria-label', describe(lab.history));
      box.dataset['points'] = String(lab.history.filter((p) => p.train !== null).length);
      // The numbers behind the curve, for tests and for anyone inspecting the page.
      box.dataset['history'] = JSON.stringify(lab.history);
      showEmpty();
    });
  };
  lab.on('history', redraw);
  new ResizeObserver(() => plot.setSize({ width: width(), height: HEIGHT })).observe(box);
}

/** A sentence for screen readers: where the curves start and end. */
function describe(history: readonly LossPoint[]): string {
  const train = history.filter((p) => p.train !== null);
  const held = history.filter((p) => p.heldout !== null);
  if (train.length === 0 && held.length === 0) return 'Loss curve: no steps yet';
  const span = (points: LossPoint[], key: 'train' | 'heldout') =>
    points.length
      ? `${key === 'train' ? 'train' : 'held-out'} loss ${points[0]![key]!.toFixed(3)} at step ${points[0]!.step}, ${points[points.length - 1]![key]!.toFixed(3)} at step ${points[points.length - 1]!.step}`
      : '';
  return `Loss curve: ${[span(train, 'train'), span(held, 'heldout')].filter(Boolean).join('; ')}`;
}
