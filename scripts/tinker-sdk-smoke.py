"""The Tinker Python SDK against `loops-web serve`: the calls a cookbook SL or RL loop makes
(training, RL loss with config, save/load with the optimizer, sampler checkpoints, sampling with
prompt and top-k logprobs, a snapshot sampler, resuming, the REST client's checkpoint routes, and
a bad datum failing its own future). A manual compatibility check, not part of `npm test` (it needs
Python and the SDK):

    npx loops-web serve --port 8000 --checkpoint-dir memory &     # with LOOPS_API_KEY=tml-local
    pip install tinker==0.24.1                                    # or the SDK's source at that tag
    python scripts/tinker-sdk-smoke.py http://127.0.0.1:8000 tml-local

The SDK insists on keys that start with "tml-"; loops-web serve accepts any key it was given.
"""
import sys, numpy as np
import tinker
from tinker import types

url, key = sys.argv[1], sys.argv[2]
service = tinker.ServiceClient(base_url=url, api_key=key)
caps = service.get_server_capabilities()
print("models:", [m.model_name for m in caps.supported_models][:3])
tc = service.create_lora_training_client(base_model="loops-tiny-llama", rank=4, seed=1)
tokens = [3 + (i * 17) % 4000 for i in range(13)]
datum = types.Datum(
    model_input=types.ModelInput.from_ints(tokens[:-1]),
    loss_fn_inputs={"target_tokens": np.array(tokens[1:], dtype=np.int64), "weights": np.ones(12, dtype=np.float32)},
)
for step in range(3):
    fb = tc.forward_backward([datum], "cross_entropy")
    opt = tc.optim_step(types.AdamParams(learning_rate=1e-2))
    out = fb.result()
    print("step", step, "loss:sum", round(out.metrics["loss:sum"], 4), "logprobs", len(out.loss_fn_outputs[0]["logprobs"].tolist()), "opt", opt.result().metrics)
rl = types.Datum(
    model_input=datum.model_input,
    loss_fn_inputs={"target_tokens": np.array(tokens[1:], dtype=np.int64), "logprobs": np.full(12, -5.0, dtype=np.float32), "advantages": np.ones(12, dtype=np.float32)},
)
print("ppo", round(tc.forward_backward([rl], "ppo", {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}).result().metrics["loss:sum"], 4))
state = tc.save_state("py-state").result()
print("state", state.path)
sampler_path = tc.save_weights_for_sampler("py-sampler").result().path
print("sampler", sampler_path)
sc = service.create_sampling_client(model_path=sampler_path)
res = sc.sample(prompt=types.ModelInput.from_ints(tokens[:5]), num_samples=2, sampling_params=types.SamplingParams(max_tokens=4, temperature=1.0, seed=3), include_prompt_logprobs=True, topk_prompt_logprobs=2).result()
print("sample", [s.tokens for s in res.sequences], "stop", [s.stop_reason for s in res.sequences], "prompt_lp", len(res.prompt_logprobs), "topk", res.topk_prompt_logprobs[1])
sc2 = tc.save_weights_and_get_sampling_client()
print("snapshot sample", sc2.sample(prompt=types.ModelInput.from_ints(tokens[:5]), num_samples=1, sampling_params=types.SamplingParams(max_tokens=3, seed=1)).result().sequences[0].tokens)
tc.load_state_with_optimizer(state.path).result()
resumed = service.create_training_client_from_state_with_optimizer(state.path)
print("resumed", resumed.model_id, resumed.forward([datum], "cross_entropy").result().metrics["loss:sum"])
rest = service.create_rest_client()
ckpts = rest.list_checkpoints(tc.model_id).result()
print("checkpoints", [(c.checkpoint_id, c.checkpoint_type, c.tinker_path) for c in ckpts.checkpoints])
arch = rest.get_checkpoint_archive_url_from_tinker_path(sampler_path).result()
print("archive", arch.url[:60])
info = rest.get_weights_info_by_tinker_path(state.path).result()
print("weights_info", info)
try:
    tc.forward_backward([types.Datum(model_input=types.ModelInput.from_ints([1, 2]), loss_fn_inputs={"target_tokens": np.array([1, 99999])})], "cross_entropy").result()
except Exception as e:
    print("bad datum ->", type(e).__name__, str(e)[:160])
print("done")
