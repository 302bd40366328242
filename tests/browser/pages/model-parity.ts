// Harness: the tiny models of every family on the cpu backend and on another backend (webgpu,
// wasm) in this page: logits, target log-probs and LoRA gradients must agree.
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendRequest } from '../../../src/runtime/backend';
import { WASM_FILES } from '../../../src/runtime/wasm-urls';
import { ATTENTION_PROJECTIONS, MLP_PROJECTIONS } from '../../../src/model/weight-names';
import { TINY_MODEL_NAMES, type TinyModelName } from '../../helpers/tiny-models';
import { engineFixture, relativeError } from '../../helpers/model-fixtures';

const tokens = [3, 17, 5, 9, 22, 1, 14, 8];
const targets = [17, 5, 9, -100, 1, 14, 8, 2];

interface Outputs {
  logits: Float32Array;
  logprobs: Float32Array;
  grads: Float32Array[];
}

async function run(name: TinyModelName): Promise<Outputs> {
  const probe = engineFixture(name);
  const family = probe.config.family;
  probe.dispose();
  const f = engineFixture(
    name,
    { targets: [...ATTENTION_PROJECTIONS[family], ...MLP_PROJECTIONS[family], 'lm_head'], rank: 2 },
    { chunkRows: 3 },
  );
  try {
    const T = tokens.length;
    const input = tf.tensor2d([tokens], [1, T], 'int32');
    const target = tf.tensor2d([targets], [1, T], 'int32');
    const logits = tf.tidy(() =>
      f.model.logits(tf.reshape(f.model.hidden(input), [T, -1]) as tf.Tensor2D),
    );
    const lp = tf.tidy(() => f.model.targetLogprobs(input, target));
    const vars = f.adapter!.variables;
    const { value, grads } = tf.variableGrads(
      () => tf.sum(f.model.targetLogprobs(input, target)) as tf.Scalar,
      vars,
    );
    const out = {
      logits: (await logits.data()) as Float32Array,
      logprobs: (await lp.data()) as Float32Array,
      grads: await Promise.all(
        vars.map(async (v) => (await grads[v.name]!.data()) as Float32Array),
      ),
    };
    tf.dispose([input, target, logits, lp, value, ...Object.values(grads)]);
    return out;
  } finally {
    f.dispose();
  }
}

async function runModelParity(backend: BackendRequest) {
  const results: Record<
    string,
    { logits: number; logprobs: number; grads: number; leaked: number; firstRunTensors: number }
  > = {};
  for (const name of TINY_MODEL_NAMES) {
    await selectBackend('cpu');
    const cpu = await run(name);
    const report = await selectBackend(backend, WASM_FILES);
    const startTensors = tf.memory().numTensors;
    const other = await run(name);
    // Leaks are counted over a second, identical run: a backend's first use may create lasting
    // internal tensors (counted once), a leak grows with every run.
    const before = tf.memory().numTensors;
    await run(name);
    results[name] = {
      logits: relativeError(other.logits, cpu.logits),
      logprobs: relativeError(other.logprobs, cpu.logprobs),
      grads: Math.max(...other.grads.map((g, i) => relativeError(g, cpu.grads[i] as Float32Array))),
      leaked: tf.memory().numTensors - before,
      firstRunTensors: before - startTensors,
    };
    if (report.backend !== backend) throw new Error(`asked for ${backend}, got ${report.backend}`);
  }
  return { backend: tf.getBackend(), results };
}

Object.assign(window, { runModelParity });
document.body.dataset.ready = 'true';
