#!/usr/bin/env python3
"""Checks that a weight file written by microsr reads back in the real libraries, equal to a
reference file those libraries wrote. Exits 0 when equal, 1 (with the reason) otherwise.

    /usr/bin/python3 tools/check_saved_pth.py OURS.pth REFERENCE.pth [--wrapper W] [--reference-wrapper R]
        torch.load(OURS) (with weights_only=True where this torch has it, i.e. torch's own
        restricted unpickler) must give {W: OrderedDict} (or the OrderedDict itself without
        --wrapper) of float32 tensors equal, key by key and in order, to REFERENCE[R].
    python3 tools/check_saved_pth.py --safetensors OURS.safetensors REFERENCE.safetensors
        safetensors.numpy.load_file must give the same names, float32 arrays, shapes and values.

Used by tests/test_pth.cpp and tests/test_safetensors.cpp (skipped there when the interpreter
lacks torch / safetensors).
"""
import argparse
import sys
from collections import OrderedDict


def fail(message):
    print("check_saved_pth: " + message, file=sys.stderr)
    sys.exit(1)


def torch_load(torch, path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch without weights_only
        return torch.load(path, map_location="cpu")


def check_pth(args):
    import torch
    ours = torch_load(torch, args.ours)
    if args.wrapper:
        if not isinstance(ours, dict) or list(ours.keys()) != [args.wrapper]:
            fail(f"expected {{'{args.wrapper}': ...}}, found {type(ours).__name__} "
                 f"with keys {list(ours.keys()) if isinstance(ours, dict) else None}")
        ours = ours[args.wrapper]
    if not isinstance(ours, OrderedDict):
        fail(f"expected an OrderedDict, found {type(ours).__name__}")
    reference = torch_load(torch, args.reference)
    if args.reference_wrapper:
        reference = reference[args.reference_wrapper]
    if list(ours.keys()) != list(reference.keys()):
        fail(f"keys differ: {list(ours.keys())[:5]}... vs {list(reference.keys())[:5]}...")
    for name, tensor in ours.items():
        expected = reference[name].float()
        if tensor.dtype != torch.float32 or tensor.shape != expected.shape:
            fail(f"{name}: {tensor.dtype}{list(tensor.shape)} vs float32{list(expected.shape)}")
        if not torch.equal(tensor, expected):
            fail(f"{name}: values differ (max |diff| {(tensor - expected).abs().max().item()})")
    print(f"check_saved_pth: {len(ours)} tensors equal")


def check_safetensors(args):
    import numpy as np
    from safetensors.numpy import load_file
    ours, reference = load_file(args.ours), load_file(args.reference)
    if sorted(ours) != sorted(reference):
        fail(f"names differ: {sorted(ours)[:5]}... vs {sorted(reference)[:5]}...")
    for name, array in ours.items():
        expected = reference[name].astype(np.float32)
        if array.dtype != np.float32 or array.shape != expected.shape:
            fail(f"{name}: {array.dtype}{list(array.shape)} vs float32{list(expected.shape)}")
        if not np.array_equal(array, expected):
            fail(f"{name}: values differ")
    print(f"check_saved_pth: {len(ours)} tensors equal")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ours")
    parser.add_argument("reference")
    parser.add_argument("--wrapper", default="")
    parser.add_argument("--reference-wrapper", default="")
    parser.add_argument("--safetensors", action="store_true")
    args = parser.parse_args()
    check_safetensors(args) if args.safetensors else check_pth(args)


if __name__ == "__main__":
    main()
