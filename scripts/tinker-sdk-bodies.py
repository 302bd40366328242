"""Writes tests/fixtures/tinker-sdk-bodies.json: request bodies exactly as the Tinker Python SDK
0.24.1 puts them on the wire (its own pydantic types, dumped as its resources/*.py dump them:
model_dump(exclude_unset=False, exclude_none=True, mode="json"), forward and forward_backward
through lib/_pydantic_conv.to_pydantic_request). tests/unit/tinker-schemas.test.ts checks them
against src/server/tinker/schemas.ts. Run with the SDK importable (pip install tinker==0.24.1, or
PYTHONPATH=<tinker source at 6b02536>/src):

    python scripts/tinker-sdk-bodies.py > tests/fixtures/tinker-sdk-bodies.json
"""
import json
import numpy as np
from tinker import types
from tinker._compat import model_dump
from tinker.lib._pydantic_conv import to_pydantic_request
import tinker

dump = lambda m: model_dump(m, exclude_unset=False, exclude_none=True, mode="json")
datum = types.Datum(
    model_input=types.ModelInput.from_ints([5, 6, 7]),
    loss_fn_inputs={"target_tokens": np.array([6, 7, 8], dtype=np.int64), "weights": [0.0, 1.0, 1.0]},
)
fbi = types.ForwardBackwardInput(data=[datum], loss_fn="ppo", loss_fn_config={"clip_low_threshold": 0.8})
bodies = {
    "create_session": dump(types.CreateSessionRequest(tags=[], user_metadata={}, sdk_version="0.24.1")),
    "session_heartbeat": dump(types.SessionHeartbeatRequest(session_id="s")),
    "client_config": dump(types.ClientConfigRequest(sdk_version="0.24.1")),
    "create_model": dump(types.CreateModelRequest(session_id="s", model_seq_id=0, base_model="m",
        lora_config=types.LoraConfig(rank=8, seed=3, train_unembed=False))),
    "get_info": dump(types.GetInfoRequest(model_id="m")),
    "unload_model": dump(types.UnloadModelRequest(model_id="m")),
    "forward_backward": dump(to_pydantic_request(types.ForwardBackwardRequest(forward_backward_input=fbi, model_id="m", seq_id=1))),
    "forward": dump(to_pydantic_request(types.ForwardRequest(forward_input=fbi, model_id="m", seq_id=2))),
    "optim_step": dump(types.OptimStepRequest(adam_params=types.AdamParams(learning_rate=1e-3), model_id="m", seq_id=3)),
    "save_weights": dump(types.SaveWeightsRequest(model_id="m", path="ckpt", seq_id=4)),
    "save_weights_for_sampler": dump(types.SaveWeightsForSamplerRequest(model_id="m", seq_id=5, sampling_session_seq_id=1)),
    "load_weights": dump(types.LoadWeightsRequest(model_id="m", seq_id=6, path="tinker://m/weights/ckpt", optimizer=True)),
    "create_sampling_session": dump(types.CreateSamplingSessionRequest(session_id="s", sampling_session_seq_id=0, base_model="m")),
    "asample": dump(types.SampleRequest(sampling_session_id="x", seq_id=0, num_samples=2,
        prompt=types.ModelInput.from_ints([1, 2]), sampling_params=types.SamplingParams(max_tokens=4, stop=["\n"], seed=1),
        prompt_logprobs=True, topk_prompt_logprobs=2)),
    "retrieve_future": dump(types.FutureRetrieveRequest(request_id="7", allow_metadata_only=True)),
    "weights_info": {"tinker_path": "tinker://m/weights/ckpt"},
}
print(json.dumps({"sdk_version": tinker.__version__, "bodies": bodies}, indent=2, sort_keys=True))
