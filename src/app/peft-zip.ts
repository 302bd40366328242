/**
 * PEFT adapters as zip files, both ways. Download: a checkpoint's `adapter_model.safetensors` and
 * `adapter_config.json` (what `PeftModel.from_pretrained(base, folder)` reads) plus a short README,
 * zipped with fflate (stored: safetensors barely compress). Upload: a zip holding those two files
 * anywhere inside, or the two files picked directly. Trainer-only files (optimizer state) stay out
 * of the download: they are not part of a PEFT adapter.
 */
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';

export interface NamedBytes {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface AdapterFiles {
  readonly adapterModel: Uint8Array;
  readonly adapterConfig: string;
}

/** A zip of the PEFT files among `files`, with a README naming the base model. */
export function adapterZip(
  files: readonly NamedBytes[],
  baseModel: string,
  step: number,
): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const name of [ADAPTER_WEIGHTS, ADAPTER_CONFIG]) {
    const file = files.find((f) => f.name === name);
    if (!file) {
      throw new Error(
        `the checkpoint has no ${name} (it has ${files.map((f) => f.name).join(', ') || 'no files'}); it cannot be exported as a PEFT adapter.`,
      );
    }
    entries[name] = file.bytes;
  }
  entries['README.md'] = strToU8(readme(baseModel, step));
  return zipSync(entries, { level: 0, mtime: new Date('2026-01-01T00:00:00Z') });
}

function readme(baseModel: string, step: number): string {
  return [
    `# LoRA adapter for ${baseModel}`,
    '',
    `Trained in the browser with loops-web for ${step} optimiser steps.`,
    '',
    '```python',
    'from peft import PeftModel',
    'from transformers import AutoModelForCausalLM',
    `base = AutoModelForCausalLM.from_pretrained("${baseModel}")`,
    'model = PeftModel.from_pretrained(base, "path/to/this/folder")',
    '```',
    '',
  ].join('\n');
}

/** The adapter files from an upload: one .zip, or the two files themselves. */
export function readAdapterUpload(files: readonly NamedBytes[]): AdapterFiles {
  let pool: NamedBytes[] = [...files];
  const zips = files.filter((f) => f.name.toLowerCase().endsWith('.zip') || isZip(f.bytes));
  if (zips.length > 1)
    throw new Error('pick one zip file (or the two adapter files), not several zips.');
  if (zips.length === 1) {
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync((zips[0] as NamedBytes).bytes);
    } catch (error) {
      throw new Error(
        `${(zips[0] as NamedBytes).name} is not a readable zip file (${(error as Error).message}).`,
        { cause: error },
      );
    }
    pool = Object.entries(entries).map(([name, bytes]) => ({ name, bytes }));
  }
  const find = (name: string) => {
    const hits = pool.filter((f) => f.name === name || f.name.endsWith(`/${name}`));
    if (hits.length !== 1) {
      const have = pool.map((f) => f.name).join(', ') || 'nothing';
      throw new Error(
        hits.length === 0
          ? `no ${name} in the upload (found ${have}); a PEFT adapter has ${ADAPTER_WEIGHTS} and ${ADAPTER_CONFIG}.`
          : `${hits.length} files named ${name} in the upload; keep one adapter per zip.`,
      );
    }
    return (hits[0] as NamedBytes).bytes;
  };
  return { adapterModel: find(ADAPTER_WEIGHTS), adapterConfig: strFromU8(find(ADAPTER_CONFIG)) };
}

/** Starts with a zip local-file header ("PK\x03\x04"), whatever the file is called. */
function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** The names inside a zip (for tests and messages). */
export function zipEntryNames(zip: Uint8Array): string[] {
  return Object.keys(unzipSync(zip));
}
