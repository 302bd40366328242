/**
 * The app's entry: starts the engine worker and shows which backend and adapter it got.
 * Later issues grow this into the fine-tuning lab; it uses only the client side of the engine.
 */
import { startWorkerEngine } from '../client/engine-link';
import type { BackendReport } from '../protocol/engine-api';

const status = document.getElementById('engine-status') as HTMLParagraphElement;
const details = document.getElementById('engine-details') as HTMLDListElement;

function show(report: BackendReport): void {
  status.textContent = `Engine ready on the ${report.backend} backend.`;
  const rows: [string, string][] = [
    ['Backend', report.backend],
    ['Requested', report.requested],
    [
      'Adapter',
      report.adapter
        ? `${report.adapter.vendor} ${report.adapter.architecture} ${report.adapter.description}`.trim()
        : 'none',
    ],
    ['Why', report.reason ?? 'hardware WebGPU adapter'],
  ];
  if (report.adapter) {
    rows.push(['Max buffer', `${(report.adapter.limits.maxBufferSize ?? 0) / 2 ** 20} MiB`]);
  }
  details.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  details.hidden = false;
  document.body.dataset.backend = report.backend;
}

const params = new URLSearchParams(location.search);
const requested = (params.get('backend') ?? 'auto') as Parameters<typeof link.engine.init>[0];
const link = startWorkerEngine();
link.engine.init(requested).then(show, (error: Error) => {
  status.textContent = `The engine could not start: ${error.message}`;
  status.classList.add('error');
});
