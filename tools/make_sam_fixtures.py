"""Exports SAM / SAM2 models to ONNX (torch.onnx.export, opset 17) and checks them against
ONNX Runtime and PyTorch.

Environment: see the top of tools/sam_models.py (Debian torch 1.13 + a venv with onnx 1.17.0,
onnxruntime 1.16.3, segment-anything 1.0, sam2 1.1.0 --no-deps, tqdm). Then:

  python tools/make_sam_fixtures.py
      small random-weight models (seed 0) -> tests/data/onnx/sam/<model>/{model.onnx,
      inputs/*.npy, expected_ort/*.npy, expected_torch/*.npy} and tests/data/onnx/sam/README.md
  python tools/make_sam_fixtures.py --full DIR
      the full-size architectures with random weights (SAM ViT-B encoder at 1024², its fixed-crop
      decoder, SAM2.1-tiny encoder) into DIR, with the same files; not for CI (~650 MB).
  python tools/make_sam_fixtures.py --export-checkpoint sam_vit_b_01ec64.pth --kind sam_vit_b --out DIR
  python tools/make_sam_fixtures.py --export-checkpoint sam2.1_hiera_tiny.pt --kind sam2.1_tiny --out DIR
      a user's real checkpoint (docs/sam.md).
"""
import argparse
import collections
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sam_models as sm  # noqa: E402

SEED = 0
OPSET = 17
FIXTURE_DIR = os.path.join(sm.repo_root(), "tests", "data", "onnx", "sam")
DECODER_INPUTS = ["image_embeddings", "point_coords", "point_labels", "mask_input",
                  "has_mask_input", "orig_im_size"]
DECODER_OUTPUTS = ["masks", "iou_predictions", "low_res_masks"]
# What segment-anything 1.0's scripts/export_onnx_model.py declares dynamic, and feeds as the
# image size (1500×2250) when it traces: that size's crop is what its export bakes in.
UPSTREAM_DYNAMIC = {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}
UPSTREAM_DUMMY_ORIG_SIZE = [1500.0, 2250.0]
FIXED_DYNAMIC = {"point_coords": {0: "num_prompts", 1: "num_points"},
                 "point_labels": {0: "num_prompts", 1: "num_points"},
                 "masks": {0: "num_prompts", 2: "height", 3: "width"},
                 "iou_predictions": {0: "num_prompts"}, "low_res_masks": {0: "num_prompts"}}


def export(module, inputs, input_names, output_names, path, dynamic_axes=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on shape arithmetic, which is expected
        torch.onnx.export(module, tuple(inputs), path, opset_version=OPSET,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes or {}, do_constant_folding=True)
    onnx.checker.check_model(path)


def run_torch(module, inputs):
    with torch.no_grad():
        out = module(*inputs)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.detach().numpy() for o in out]


def run_ort(path, feeds):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 2
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def relative_max_diff(a, b):
    """max |a - b| / max |a|: a difference measured against the output's own scale."""
    scale = float(np.abs(a).max()) or 1.0
    return float(np.abs(a - b).max()) / scale, float(np.abs(a - b).max()), scale


def op_histogram(path):
    counts = collections.Counter(n.op_type for n in onnx.load(path).graph.node)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def write_case(folder, module, inputs, input_names, output_names, dynamic_axes=None):
    """Exports module, saves inputs and both references; returns a summary for the README."""
    path = os.path.join(folder, "model.onnx")
    export(module, inputs, input_names, output_names, path, dynamic_axes)
    feeds = {name: t.numpy() for name, t in zip(input_names, inputs)}
    torch_out = run_torch(module, inputs)
    ort_out = run_ort(path, feeds)
    summary = {"name": os.path.basename(folder), "bytes": os.path.getsize(path),
               "ops": op_histogram(path), "inputs": [], "outputs": []}
    for sub, arrays, names in (("inputs", feeds.values(), input_names),
                               ("expected_torch", torch_out, output_names),
                               ("expected_ort", ort_out, output_names)):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        for name, array in zip(names, arrays):
            np.save(os.path.join(folder, sub, name + ".npy"), np.ascontiguousarray(array))
    for name, value in feeds.items():
        summary["inputs"].append((name, value.dtype.name, list(value.shape)))
    for name, t, o in zip(output_names, torch_out, ort_out):
        summary["outputs"].append((name, list(t.shape), relative_max_diff(t, o)))
    params = sum(int(np.prod(i.dims)) for i in onnx.load(path).graph.initializer)
    summary["params"] = params
    return summary, torch_out, ort_out


def sam_decoder_inputs(embedding, config, boxes, orig_hw, generator):
    """Decoder inputs for B boxes (x0, y0, x1, y1 in original-image pixels) on an image of
    orig_hw: corners scaled like ResizeLongestSide.apply_coords, labels 2 and 3."""
    size = sm.SAM_CONFIGS[config]["image_size"]
    scale = size / max(orig_hw)
    coords = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 2, 2) * scale
    labels = torch.tensor([[2.0, 3.0]] * len(boxes))
    grid4 = 4 * (size // 16)
    mask_input = torch.randn((1, 1, grid4, grid4), generator=generator)
    has_mask = torch.tensor([1.0])
    return [embedding, coords, labels, mask_input, has_mask, torch.tensor(orig_hw, dtype=torch.float32)]


def make_sam_cases(config, out_dir, boxes, orig_hw, with_baked):
    torch.manual_seed(SEED)
    sam = sm.randomize_(sm.build_sam(config), SEED)
    generator = torch.Generator().manual_seed(SEED + 1)
    size = sm.SAM_CONFIGS[config]["image_size"]
    image = torch.randn((1, 3, size, size), generator=generator)
    summaries = []
    s, torch_out, _ = write_case(os.path.join(out_dir, f"sam_vit_{config.replace('vit_', '')}_encoder"), sam.image_encoder,
                                 [image], ["image"], ["image_embeddings"])
    summaries.append(s)
    embedding = torch.from_numpy(torch_out[0])
    inputs = sam_decoder_inputs(embedding, config, boxes, orig_hw, generator)
    fixed = sm.SamDecoderFixedCrop(sam).eval()
    s, fixed_torch, fixed_ort = write_case(os.path.join(out_dir, f"sam_decoder_{config}"), fixed,
                                           inputs, DECODER_INPUTS, DECODER_OUTPUTS, FIXED_DYNAMIC)
    s["dynamic"] = check_decoder_dynamic(os.path.join(out_dir, f"sam_decoder_{config}", "model.onnx"),
                                         fixed, inputs)
    summaries.append(s)
    if with_baked:
        summaries.append(make_baked_case(sam, config, out_dir, inputs, fixed_ort))
    return summaries


def make_baked_case(sam, config, out_dir, fixed_inputs, fixed_ort):
    """segment-anything 1.0's own SamOnnxModel traced as its export script does (dummy image
    1500×2250, one prompt), then run on the fixture's image size with the fixture's first box."""
    baked = sm.SamOnnxModel(sam, return_single_mask=False).eval()
    folder = os.path.join(out_dir, f"sam_decoder_{config}_baked_crop")
    path = os.path.join(folder, "model.onnx")
    dummy = list(fixed_inputs)
    dummy[1], dummy[2] = fixed_inputs[1][:1], fixed_inputs[2][:1]
    dummy[5] = torch.tensor(UPSTREAM_DUMMY_ORIG_SIZE)
    export(baked, dummy, DECODER_INPUTS, DECODER_OUTPUTS, path, UPSTREAM_DYNAMIC)
    one_box = list(fixed_inputs)
    one_box[1], one_box[2] = fixed_inputs[1][:1], fixed_inputs[2][:1]
    # Save this case's files; expected_torch is eager SamOnnxModel (crop from the real values),
    # expected_ort is what the exported graph computes (crop of the dummy image).
    summary, _, baked_ort = write_case_from_exported(folder, baked, one_box)
    fixed_masks = fixed_ort[0][:1]
    diff = np.abs(baked_ort[0] - fixed_masks)
    disagree = float(np.mean((baked_ort[0] > 0) != (fixed_masks > 0)))
    summary["baked_error"] = dict(max_abs=float(diff.max()), mean_abs=float(diff.mean()),
                                  scale=float(np.abs(fixed_masks).max()), disagree=disagree)
    return summary


def write_case_from_exported(folder, module, inputs):
    path = os.path.join(folder, "model.onnx")
    feeds = {n: t.numpy() for n, t in zip(DECODER_INPUTS, inputs)}
    torch_out, ort_out = run_torch(module, inputs), run_ort(path, feeds)
    for sub, arrays, names in (("inputs", feeds.values(), DECODER_INPUTS),
                               ("expected_torch", torch_out, DECODER_OUTPUTS),
                               ("expected_ort", ort_out, DECODER_OUTPUTS)):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        for name, array in zip(names, arrays):
            np.save(os.path.join(folder, sub, name + ".npy"), np.ascontiguousarray(array))
    summary = {"name": os.path.basename(folder), "bytes": os.path.getsize(path),
               "ops": op_histogram(path),
               "params": sum(int(np.prod(i.dims)) for i in onnx.load(path).graph.initializer),
               "inputs": [(n, v.dtype.name, list(v.shape)) for n, v in feeds.items()],
               "outputs": [(n, list(t.shape), relative_max_diff(t, o))
                           for n, t, o in zip(DECODER_OUTPUTS, torch_out, ort_out)]}
    return summary, torch_out, ort_out


def check_decoder_dynamic(path, module, inputs):
    """Runs the exported decoder at other prompt counts, point counts and image sizes than it
    was traced with, against eager PyTorch; returns the worst relative difference seen."""
    worst = 0.0
    generator = torch.Generator().manual_seed(SEED + 2)
    size = float(module.img_size)
    for prompts, points, orig_hw in ((1, 2, [48.0, 160.0]), (3, 3, [200.0, 90.0]), (5, 1, [64.0, 64.0])):
        trial = list(inputs)
        trial[1] = torch.rand((prompts, points, 2), generator=generator) * size
        trial[2] = torch.randint(0, 4, (prompts, points), generator=generator).float()
        trial[5] = torch.tensor(orig_hw)
        feeds = {n: t.numpy() for n, t in zip(DECODER_INPUTS, trial)}
        for t, o in zip(run_torch(module, trial), run_ort(path, feeds)):
            if t.shape != o.shape:
                raise SystemExit(f"{path}: shape {o.shape} from ONNX Runtime, {t.shape} from torch")
            worst = max(worst, relative_max_diff(t, o)[0])
    return worst


def make_sam2_case(config, out_dir):
    torch.manual_seed(SEED)
    encoder = sm.randomize_(sm.build_sam2_encoder_for_decoder(config), SEED)
    size = sm.SAM2_CONFIGS[config]["image_size"]
    image = torch.randn((1, 3, size, size), generator=torch.Generator().manual_seed(SEED + 3))
    name = "sam2_hiera_small_encoder" if config == "small" else f"sam2.1_hiera_{config}_encoder"
    s, _, _ = write_case(os.path.join(out_dir, name), encoder, [image], ["image"],
                         ["image_embed", "high_res_feats_0", "high_res_feats_1"])
    return s


def readme(summaries, path):
    lines = ["# SAM / SAM2 ONNX fixtures (random weights)", "",
             "Made by `tools/make_sam_fixtures.py` (seed 0, torch "
             f"{torch.__version__}, opset {OPSET}, onnx {onnx.__version__}, onnxruntime "
             f"{onnxruntime.__version__}); docs/sam.md explains the models. Each folder holds "
             "`model.onnx`, `inputs/<input>.npy`, `expected_torch/<output>.npy` (eager PyTorch) "
             "and `expected_ort/<output>.npy` (ONNX Runtime, 2 threads, CPU). Parity is "
             "max |torch - ort| / max |torch| per output.", ""]
    for s in summaries:
        lines += [f"## {s['name']}", "",
                  f"- model.onnx: {s['bytes']:,} bytes, {s['params']:,} parameters, "
                  f"{sum(c for _, c in s['ops'])} nodes"]
        lines.append("- inputs: " + ", ".join(f"`{n}` {t} {shape}" for n, t, shape in s["inputs"]))
        for name, shape, (rel, absolute, scale) in s["outputs"]:
            lines.append(f"- output `{name}` {shape}: torch vs ORT {rel:.2e} of scale "
                         f"{scale:.3g} (max abs {absolute:.2e})")
        if "dynamic" in s:
            lines.append(f"- other prompt counts (1, 3, 5), point counts and image sizes: worst "
                         f"torch vs ORT {s['dynamic']:.2e} of scale")
        if "baked_error" in s:
            e = s["baked_error"]
            lines.append(f"- the baked crop ({UPSTREAM_DUMMY_ORIG_SIZE[0]:.0f}×"
                         f"{UPSTREAM_DUMMY_ORIG_SIZE[1]:.0f} traced) at this image size: masks differ "
                         f"from the fixed export by up to {e['max_abs']:.3g} (mean {e['mean_abs']:.3g}; "
                         f"scale {e['scale']:.3g}); {100 * e['disagree']:.1f}% of pixels change "
                         "side of 0. expected_torch (eager, correct crop) and expected_ort (the "
                         "graph, baked crop) differ for `masks` for that reason.")
        lines.append("- ops: " + ", ".join(f"{op} {count}" for op, count in s["ops"]))
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


def export_checkpoint(checkpoint, kind, out_dir):
    if kind == "sam_vit_b":
        sam = sm.build_sam("vit_b")
        sam.load_state_dict(torch.load(checkpoint, map_location="cpu"))
        size = 1024
        export(sam.image_encoder, [torch.zeros(1, 3, size, size)], ["image"], ["image_embeddings"],
               os.path.join(out_dir, "sam_vit_b_encoder.onnx"))
        inputs = sam_decoder_inputs(torch.zeros(1, 256, 64, 64), "vit_b", [[10, 20, 300, 400]],
                                    [600.0, 800.0], torch.Generator().manual_seed(0))
        export(sm.SamDecoderFixedCrop(sam).eval(), inputs, DECODER_INPUTS, DECODER_OUTPUTS,
               os.path.join(out_dir, "sam_vit_b_decoder.onnx"), FIXED_DYNAMIC)
    elif kind in ("sam2.1_tiny", "sam2.1_small"):
        config = "tiny" if kind == "sam2.1_tiny" else "hiera_small"
        encoder = sm.build_sam2_encoder_for_decoder(config)
        encoder.load_sam2_checkpoint(checkpoint)
        export(encoder.eval(), [torch.zeros(1, 3, 1024, 1024)], ["image"],
               ["image_embed", "high_res_feats_0", "high_res_feats_1"],
               os.path.join(out_dir, f"{kind.replace('.', '_')}_encoder.onnx"))
    else:
        raise SystemExit(f"--kind {kind}: expected sam_vit_b, sam2.1_tiny or sam2.1_small")
    print(f"wrote {out_dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", metavar="DIR", help="full-size random-weight exports into DIR")
    parser.add_argument("--export-checkpoint", metavar="PATH", help="a real SAM/SAM2 checkpoint")
    parser.add_argument("--kind", help="with --export-checkpoint: sam_vit_b, sam2.1_tiny, sam2.1_small")
    parser.add_argument("--out", default=".", help="with --export-checkpoint: output folder")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.export_checkpoint:
        return export_checkpoint(args.export_checkpoint, args.kind, args.out)
    if args.full:
        summaries = make_sam_cases("vit_b", args.full, [[100, 150, 700, 650], [900, 80, 1400, 500]],
                                   [900.0, 1500.0], with_baked=False)
        summaries.append(make_sam2_case("tiny", args.full))
        return readme(summaries, os.path.join(args.full, "README.md"))
    summaries = make_sam_cases("small", FIXTURE_DIR, [[10, 8, 40, 35], [55, 20, 95, 58]],
                               [60.0, 100.0], with_baked=True)
    summaries.append(make_sam2_case("small", FIXTURE_DIR))
    readme(summaries, os.path.join(FIXTURE_DIR, "README.md"))


if __name__ == "__main__":
    main()
