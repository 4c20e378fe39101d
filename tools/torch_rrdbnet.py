"""RRDBNet in PyTorch: the independent reference for microsr's forward pass.

Same architecture and the same state_dict keys as basicsr.archs.rrdbnet_arch.RRDBNet (the
generator of ESRGAN / Real-ESRGAN), written here from its description:

    x ─(pixel_unshuffle by 2 for scale 2, by 4 for scale 1)─► conv_first ─► feat
    feat ─► body (num_block × RRDB) ─► conv_body ─(+ feat)─►
        nearest ×2 ─► conv_up1 ─► lrelu ─► nearest ×2 ─► conv_up2 ─► lrelu
        ─► conv_hr ─► lrelu ─► conv_last ─► y          (y is `scale`× the size of x)

    RRDB(x) = x + 0.2 · rdb3(rdb2(rdb1(x)))
    RDB(x)  = x + 0.2 · conv5([x, x1, x2, x3, x4]),  xi = lrelu(convi([x, x1, …, x(i-1)]))

Every convolution is 3×3, stride 1, zero padding 1, with bias; lrelu is LeakyReLU(0.2).

Keys: conv_first, body.N.rdb{1,2,3}.conv{1..5}, conv_body, conv_up1, conv_up2, conv_hr, conv_last
(each .weight [out][in][3][3] and .bias [out]).

record_activations(model) hooks the named intermediate tensors that microsr's
RRDBNet::set_activation_recorder also produces:
    "conv_first"  output of conv_first
    "body.N"      output of RRDB block N
    "conv_body"   output of conv_body, BEFORE the skip (feat) is added
    "conv_up1", "conv_up2", "conv_hr"   after their LeakyReLU

Usage: /usr/bin/python3 (Debian's python3-torch); imported by the other tools/*rrdbnet* scripts.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

LRELU_SLOPE = 0.2
RESIDUAL_SCALE = 0.2


def conv3x3(in_ch, out_ch):
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=True)


def space_to_depth(x, factor):
    """[N][C][H][W] → [N][C·f²][H/f][W/f]; output channel c·f² + i·f + j holds x[c][y·f+i][x·f+j].

    This is torch.nn.functional.pixel_unshuffle's (and basicsr's) channel order, written out so
    the convention is visible here.
    """
    n, c, h, w = x.shape
    assert h % factor == 0 and w % factor == 0, f"H={h}, W={w} must be divisible by {factor}"
    x = x.view(n, c, h // factor, factor, w // factor, factor)
    x = x.permute(0, 1, 3, 5, 2, 4)  # n, c, i, j, y, x
    return x.reshape(n, c * factor * factor, h // factor, w // factor)


class ResidualDenseBlock(nn.Module):
    """Five densely connected convs; conv_i sees the block input and all earlier outputs."""

    def __init__(self, num_feat, num_grow_ch):
        super().__init__()
        self.conv1 = conv3x3(num_feat + 0 * num_grow_ch, num_grow_ch)
        self.conv2 = conv3x3(num_feat + 1 * num_grow_ch, num_grow_ch)
        self.conv3 = conv3x3(num_feat + 2 * num_grow_ch, num_grow_ch)
        self.conv4 = conv3x3(num_feat + 3 * num_grow_ch, num_grow_ch)
        self.conv5 = conv3x3(num_feat + 4 * num_grow_ch, num_feat)

    def forward(self, x):
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(F.leaky_relu(conv(torch.cat(features, dim=1)), LRELU_SLOPE))
        x5 = self.conv5(torch.cat(features, dim=1))
        return x + RESIDUAL_SCALE * x5


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs with an outer scaled skip."""

    def __init__(self, num_feat, num_grow_ch):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        return x + RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23,
                 num_grow_ch=32):
        super().__init__()
        assert scale in (1, 2, 4), f"scale must be 1, 2 or 4, got {scale}"
        self.scale = scale
        # scale 2 / 1 fold 2×2 / 4×4 pixel blocks into channels so the ×4 upsampler gives ×2 / ×1.
        self.unshuffle_factor = {4: 1, 2: 2, 1: 4}[scale]
        first_in = num_in_ch * self.unshuffle_factor ** 2
        self.conv_first = conv3x3(first_in, num_feat)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = conv3x3(num_feat, num_feat)
        self.conv_up1 = conv3x3(num_feat, num_feat)
        self.conv_up2 = conv3x3(num_feat, num_feat)
        self.conv_hr = conv3x3(num_feat, num_feat)
        self.conv_last = conv3x3(num_feat, num_out_ch)
        # Separate module instances so hooks can record each activation under its own name.
        self.lrelu_up1 = nn.LeakyReLU(LRELU_SLOPE)
        self.lrelu_up2 = nn.LeakyReLU(LRELU_SLOPE)
        self.lrelu_hr = nn.LeakyReLU(LRELU_SLOPE)

    def forward(self, x):
        if self.unshuffle_factor > 1:
            x = space_to_depth(x, self.unshuffle_factor)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu_up1(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu_up2(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu_hr(self.conv_hr(feat)))


def config_from_state_dict(state_dict):
    """Reads (num_in_ch, num_out_ch, scale, num_feat, num_block, num_grow_ch) off basicsr keys."""
    first = state_dict["conv_first.weight"]
    num_feat, first_in = first.shape[0], first.shape[1]
    num_out_ch = state_dict["conv_last.weight"].shape[0]
    num_grow_ch = state_dict["body.0.rdb1.conv1.weight"].shape[0]
    num_block = 1 + max(int(k.split(".")[1]) for k in state_dict if k.startswith("body."))
    # Without pixel_unshuffle the input channel count is the image's (1 or 3, …); 4× or 16× more
    # means scale 2 or 1. Assumes num_in_ch == num_out_ch, as in every released model.
    if first_in == num_out_ch:
        scale, num_in_ch = 4, first_in
    elif first_in == 4 * num_out_ch:
        scale, num_in_ch = 2, first_in // 4
    elif first_in == 16 * num_out_ch:
        scale, num_in_ch = 1, first_in // 16
    else:
        raise ValueError(f"conv_first has {first_in} input channels; cannot infer scale")
    return dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, scale=scale, num_feat=num_feat,
                num_block=num_block, num_grow_ch=num_grow_ch)


def build_from_state_dict(state_dict, dtype=torch.float32):
    model = RRDBNet(**config_from_state_dict(state_dict))
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state_dict.items()}, strict=True)
    return model.to(dtype).eval()


def record_activations(model):
    """Registers forward hooks; returns (activations dict filled on each forward, remove())."""
    activations = {}
    named = {"conv_first": model.conv_first, "conv_body": model.conv_body,
             "conv_up1": model.lrelu_up1, "conv_up2": model.lrelu_up2, "conv_hr": model.lrelu_hr}
    for index, block in enumerate(model.body):
        named[f"body.{index}"] = block

    def make_hook(name):
        def hook(_module, _inputs, output):
            activations[name] = output.detach().clone()
        return hook

    handles = [module.register_forward_hook(make_hook(name)) for name, module in named.items()]

    def remove():
        for handle in handles:
            handle.remove()

    return activations, remove


def multiply_accumulates(config, h, w):
    """MACs of one forward pass on an h×w image (batch 1): Σ over convs of H·W·out·in·9."""
    factor = {4: 1, 2: 2, 1: 4}[config["scale"]]
    lh, lw = h // factor, w // factor  # the feature-map size in the body
    nf, gc = config["num_feat"], config["num_grow_ch"]
    per_pixel_rdb = sum((nf + i * gc) * gc for i in range(4)) + (nf + 4 * gc) * nf
    body = config["num_block"] * 3 * per_pixel_rdb
    low = (config["num_in_ch"] * factor ** 2 * nf + body + nf * nf) * lh * lw
    up1 = nf * nf * (2 * lh) * (2 * lw)
    high = (nf * nf + nf * nf + nf * config["num_out_ch"]) * (4 * lh) * (4 * lw)
    return 9 * (low + up1 + high)
