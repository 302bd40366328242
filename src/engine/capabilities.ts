/**
 * `get_server_capabilities`: the shipped models first (from their manifest), then the hub models
 * whose configs the engine knows, and the backend and WebGPU adapter in use (this engine's "GPU
 * class").
 */
import { KNOWN_CONFIGS } from '../model/known-configs';
import type { ServerCapabilitiesWire } from '../protocol/wire-types';
import type { BackendReport } from '../runtime/backend';
import type { ModelRegistry } from './model-registry';

export async function serverCapabilities(
  report: BackendReport,
  registry: ModelRegistry,
): Promise<ServerCapabilitiesWire> {
  const shipped = await registry.shippedModels();
  const hub = Object.entries(KNOWN_CONFIGS).map(([name, cfg]) => ({
    model_name: name,
    max_context_length: contextLength(cfg),
    shipped: false,
  }));
  return {
    supported_models: [
      ...shipped.map((m) => ({
        model_name: m.name,
        max_context_length: m.max_context_length,
        shipped: true,
      })),
      ...hub,
    ],
    backend: report.backend,
    adapter: report.adapter
      ? {
          vendor: report.adapter.vendor,
          architecture: report.adapter.architecture,
          description: report.adapter.description,
          limits: report.adapter.limits,
        }
      : null,
  };
}

/** A config.json's context length (`max_position_embeddings`, GPT-2's `n_positions`, else 1024). */
function contextLength(cfg: object): number {
  const c = cfg as { max_position_embeddings?: number; n_positions?: number };
  return c.max_position_embeddings ?? c.n_positions ?? 1024;
}
