#!/usr/bin/env python3
"""Checks a `microsr finetune` output in PyTorch, and dumps what torch read for the C++ test.

    /usr/bin/python3 tools/check_finetuned_pth.py OUT.pth DUMP_DIR

torch.load(OUT.pth) (weights_only where this torch has it) must give a dict with "params" and
"params_ema", each an OrderedDict of float32 tensors that BasicSR's RRDBNet architecture
(tools/torch_rrdbnet.py, architecture read off the tensors) accepts with load_state_dict(strict=True)
— the way Real-ESRGAN loads a generator. Each group is then written to DUMP_DIR/<group>.safetensors
(float32, keys as read), so tests/test_finetune_cli.cpp can compare torch's view bit for bit with
the weights microsr meant to save. Exit 0 when all that holds, 1 with the reason otherwise.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rrdbnet_goldens import write_safetensors  # noqa: E402
from torch_rrdbnet import build_from_state_dict  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, dump = sys.argv[1], sys.argv[2]
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:
        loaded = torch.load(path, map_location="cpu")
    if not isinstance(loaded, dict) or set(loaded) != {"params", "params_ema"}:
        sys.exit(f"check_finetuned_pth: expected keys params and params_ema, found {list(loaded)}")
    os.makedirs(dump, exist_ok=True)
    for group, state in loaded.items():
        for key, t in state.items():
            if t.dtype != torch.float32:
                sys.exit(f"check_finetuned_pth: {group}.{key} is {t.dtype}")
        build_from_state_dict(state)  # load_state_dict(strict=True) inside; raises on any mismatch
        write_safetensors(os.path.join(dump, group + ".safetensors"), {k: v.numpy() for k, v in state.items()})
    print(f"check_finetuned_pth: {path}: params and params_ema load into RRDBNet ({len(loaded['params'])} tensors each)")


if __name__ == "__main__":
    main()
