/**
 * The header badges: which backend the engine got (WebGPU, wasm or cpu) on which adapter, and why
 * when it fell back, with the details (adapter, limits, wasm threads) one click away; and whether the app is
 * available offline (service worker ready).
 */
import type { BackendReport } from '../index';
import { byId, el, messageOf } from './dom';

export function showBackend(report: BackendReport): void {
  const badge = byId('engine-status');
  const adapter = report.adapter
    ? [report.adapter.vendor, report.adapter.architecture, report.adapter.description]
        .filter(Boolean)
        .join(' ')
    : null;
  badge.textContent =
    report.backend === 'webgpu'
      ? `Engine ready on the webgpu backend${adapter ? `: ${adapter}` : ''}`
      : `Engine ready on the ${report.backend} backend${report.reason ? `, because ${shorten(report.reason)}` : ''}`;
  const rows: [string, string][] = [
    ['Backend', report.backend],
    ['Requested', report.requested],
    ['WebGPU adapter', adapter ?? 'none'],
    ['Why', report.reason ?? 'a hardware WebGPU adapter: training runs on the GPU'],
  ];
  if (report.wasm) rows.push(['wasm threads', describeThreads(report.wasm)]);
  const maxBuffer = report.adapter?.limits['maxBufferSize'];
  if (maxBuffer) rows.push(['Largest GPU buffer', `${Math.round(maxBuffer / 2 ** 20)} MiB`]);
  byId('engine-details').replaceChildren(
    ...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
  );
  document.body.dataset['backend'] = report.backend;
}

/** "2 of 2 cores (threaded-simd)", and why when it runs fewer. */
function describeThreads(wasm: NonNullable<BackendReport['wasm']>): string {
  const cores = wasm.cores === null ? '' : ` of ${wasm.cores} cores`;
  const why = wasm.reason ? `: ${wasm.reason}` : '';
  return `${wasm.threads}${cores} (${wasm.binary} binary)${why}`;
}

export function showEngineError(error: unknown): void {
  const badge = byId('engine-status');
  badge.textContent = `The engine could not start: ${messageOf(error)}`;
  badge.classList.add('error');
}

export function showOffline(text: string): void {
  const badge = byId('offline-status');
  badge.textContent = text;
  badge.hidden = false;
}

/** The first clause of a reason, short enough for a badge. */
function shorten(reason: string): string {
  const first = reason.split(/(?<=[.;])\s/)[0] ?? reason;
  return first.length > 90 ? `${first.slice(0, 87)}…` : first.replace(/[.;]$/, '');
}
