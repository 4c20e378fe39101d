"""Writes tests/data/train/*.safetensors: PyTorch goldens of RRDBNet training on small random nets.

Each fixture holds, every tensor F32:
    the initial weights under their basicsr keys (conv_first.weight, body.0.rdb1.conv1.bias, …)
    "lr", "hr"             one batch: [N][C][h][w] inputs and [N][C][s·h][s·w] targets in [0, 1)
    "loss0"                [1] the L1 loss of the initial weights on the batch
    "grad.<key>"           ∂loss0/∂θ for every parameter (one backward pass)
    "losses"               [steps] the loss before each of `steps` optimizer iterations on the
                           same batch (torch.optim.Adam or AdamW, lr per step from a StepLR)
    "final.<key>"          the weights after those iterations
    "ema.<key>"            their EMA (decay `ema`, BasicSR's model_ema), when ema > 0; with
                           ema_warmup = 1 the decay at step t is min(ema, (1 + t) / (10 + t))
and __metadata__: the architecture, the optimizer settings (lr, lr_step, lr_gamma — the StepLR is
stepped once per ITERATION here, to exercise it in few steps —, beta1, beta2, eps, weight_decay,
decoupled, clip_grad_norm, ema, ema_warmup, steps) and "generator".

Precision: weights and data are drawn, rounded to float32 and stored; the forward, backward and
optimizer then run in float64 on exactly those values (model.double(), float64 Adam), so the
goldens are the exact answers to within float32 rounding and any difference a float32 engine
shows is its own.

Usage: /usr/bin/python3 tools/make_train_goldens.py [--out tests/data/train]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rrdbnet_goldens import make_random_model, write_safetensors  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (architecture, LR batch shape, seed, optimizer settings)
FIXTURES = {
    # x4, the seed's optimizer (Adam 0.9/0.999) with a StepLR and an EMA with warm-up.
    "x4_f8_b2_g4_adam": (
        dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=2, num_grow_ch=4),
        (2, 3, 7, 6), 11,
        dict(lr=1e-3, lr_step=4, lr_gamma=0.5, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
             decoupled=0, clip_grad_norm=0.0, ema=0.9, ema_warmup=1, steps=10)),
    # x2 (pixel_unshuffle in front), AdamW with decoupled weight decay and gradient clipping.
    "x2_f6_b1_g3_adamw_clip": (
        dict(num_in_ch=3, num_out_ch=3, scale=2, num_feat=6, num_block=1, num_grow_ch=3),
        (1, 3, 8, 10), 12,
        dict(lr=2e-3, lr_step=100, lr_gamma=0.5, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1,
             decoupled=1, clip_grad_norm=0.02, ema=0.0, ema_warmup=0, steps=10)),
}


def l1(model, lr, hr):
    return (model(lr) - hr).abs().mean()


def make_fixture(name, config, lr_shape, seed, opt, out_dir):
    model = make_random_model(config, seed)
    generator = torch.Generator().manual_seed(2000 + seed)
    lr = torch.rand(lr_shape, generator=generator)
    s = config["scale"]
    hr = torch.rand((lr_shape[0], config["num_out_ch"], lr_shape[2] * s, lr_shape[3] * s), generator=generator)
    tensors = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    tensors["lr"], tensors["hr"] = lr.numpy(), hr.numpy()

    model = model.double()
    lr64, hr64 = lr.double(), hr.double()
    names = [k for k, _ in model.named_parameters()]

    # One backward pass from the initial weights.
    loss0 = l1(model, lr64, hr64)
    grads = torch.autograd.grad(loss0, list(model.parameters()))
    tensors["loss0"] = loss0.detach().reshape(1).numpy()
    for key, g in zip(names, grads):
        tensors["grad." + key] = g.numpy()

    # `steps` optimizer iterations on the same batch.
    optimizer_class = torch.optim.AdamW if opt["decoupled"] else torch.optim.Adam
    optimizer = optimizer_class(model.parameters(), lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]),
                                eps=opt["eps"], weight_decay=opt["weight_decay"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=opt["lr_step"], gamma=opt["lr_gamma"])
    ema = {k: v.detach().clone() for k, v in model.named_parameters()}
    losses = []
    for step in range(1, opt["steps"] + 1):
        decay = min(opt["ema"], (1 + step) / (10 + step)) if opt["ema_warmup"] else opt["ema"]
        optimizer.zero_grad()
        loss = l1(model, lr64, hr64)
        loss.backward()
        if opt["clip_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), opt["clip_grad_norm"])
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            for k, v in model.named_parameters():
                ema[k].mul_(decay).add_(v, alpha=1 - decay)
        losses.append(loss.item())
    tensors["losses"] = torch.tensor(losses, dtype=torch.float64).numpy()
    for k, v in model.named_parameters():
        tensors["final." + k] = v.detach().numpy()
        if opt["ema"] > 0:
            tensors["ema." + k] = ema[k].numpy()

    metadata = dict(config, **opt, generator="tools/make_train_goldens.py")
    path = os.path.join(out_dir, name + ".safetensors")
    write_safetensors(path, tensors, metadata)
    moved = max((model.state_dict()[k].float() - torch.from_numpy(tensors[k])).abs().max().item() for k in names)
    print(f"{path}: {os.path.getsize(path) / 1024:.1f} KB, loss {losses[0]:.6f} → {losses[-1]:.6f}, "
          f"largest weight change {moved:.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "data", "train"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    for name, (config, lr_shape, seed, opt) in FIXTURES.items():
        make_fixture(name, config, lr_shape, seed, opt, args.out)


if __name__ == "__main__":
    main()
