"""SAM and SAM2 modules as microsr exports them to ONNX: the model code comes from PyPI
(`segment-anything` 1.0, `sam2` 1.1.0); the wrappers and the compatibility shims are ours.

Environment (Debian's torch 1.13 from apt package python3-torch, plus PyPI packages in a venv):
    /usr/bin/python3 -m venv --system-site-packages /work/venvs/sam
    /work/venvs/sam/bin/pip install onnx==1.17.0 segment-anything==1.0 tqdm onnxruntime==1.16.3
    /work/venvs/sam/bin/pip install --no-deps sam2==1.1.0   # it asks for torch>=2.5.1; see shims
    /work/venvs/sam/bin/pip uninstall -y numpy   # onnx pulls numpy 2, which Debian's torch 1.13 cannot
                                                 # use ("Numpy is not available"): keep Debian's 1.24
(apt package python3-torch first, when `import torch` fails in /usr/bin/python3.)
onnxruntime 1.16.3 is the newest wheel that accepts Debian's numpy 1.24. torchvision, hydra and
iopath are not needed: install_shims() below stands in for the few names the packages import.

Used by tools/make_sam_fixtures.py; docs/sam.md explains the exports.
"""
import math
import os
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------
# Shims: what the packages import but an image-encoder/decoder export does not use.
# ---------------------------------------------------------------------------------------------
def _attention_with_matmuls(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(q k^T / sqrt(d)) v for torch < 2.0, which lacks F.scaled_dot_product_attention.
    Shapes: q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv] -> [..., Lq, dv]. Exported as
    MatMul -> Mul -> Softmax -> MatMul, the same nodes torch 2.x writes for SDPA at opset 17."""
    assert attn_mask is None and not is_causal and dropout_p == 0.0, "only the eval-time form"
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    weights = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)
    return weights @ v


def _package_without_init(name):
    """Registers package `name` by its folder only, so that its __init__.py (which imports
    torchvision in segment_anything, hydra in sam2) does not run; its submodules import as usual."""
    if name in sys.modules:
        return
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"package {name} is not installed (see the top of tools/sam_models.py)")
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    sys.modules[name] = package


def _register_tile_symbolic():
    """torch 1.13 cannot export aten::tile (Hiera tiles its window position embedding). With as
    many repeats as dimensions, tile is aten::repeat, whose export is ONNX Tile."""
    from torch.onnx import symbolic_opset9

    def tile(g, self, dims):
        return symbolic_opset9.repeat(g, self, dims)

    torch.onnx.register_custom_op_symbolic("aten::tile", tile, 9)


def install_shims():
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = _attention_with_matmuls
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) < (2, 0):
        _register_tile_symbolic()
    _package_without_init("segment_anything")
    _package_without_init("sam2")
    if "iopath.common.file_io" not in sys.modules:
        try:
            import iopath.common.file_io  # noqa: F401
        except ImportError:  # hieradet imports g_pathmgr only to open pretrained trunk weights
            file_io = types.ModuleType("iopath.common.file_io")
            file_io.g_pathmgr = types.SimpleNamespace(open=open)
            for name in ("iopath", "iopath.common"):
                sys.modules.setdefault(name, types.ModuleType(name))
            sys.modules["iopath.common.file_io"] = file_io


install_shims()

from segment_anything.modeling import (  # noqa: E402
    ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer)
from segment_anything.utils.onnx import SamOnnxModel  # noqa: E402  (the baked-crop export)
from sam2.modeling.backbones.hieradet import Hiera  # noqa: E402
from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder  # noqa: E402
from sam2.modeling.position_encoding import PositionEmbeddingSine  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Configurations. "small" keeps every op of the full model (windowed + global attention with
# relative positions and padding to the window, Hiera's q-pooling and windows, FPN with nearest
# upsampling) at a fraction of the width and depth, so the fixtures stay small.
# ---------------------------------------------------------------------------------------------
SAM_CONFIGS = {
    # ViT-B: segment_anything.build_sam.build_sam_vit_b
    "vit_b": dict(image_size=1024, embed_dim=768, depth=12, heads=12, global_attn=(2, 5, 8, 11),
                  window=14, prompt_dim=256, decoder_mlp=2048, decoder_heads=8, iou_hidden=256),
    # 128² input -> 8×8 tokens; window 7 pads them to 14×14 as ViT-B pads 64 to 70.
    "small": dict(image_size=128, embed_dim=48, depth=4, heads=2, global_attn=(1, 3),
                  window=7, prompt_dim=32, decoder_mlp=64, decoder_heads=4, iou_hidden=32),
}

SAM2_CONFIGS = {
    # SAM2.1 hiera tiny / small: sam2/configs/sam2.1/sam2.1_hiera_{t,s}.yaml
    "tiny": dict(image_size=1024, embed_dim=96, heads=1, stages=(1, 2, 7, 2),
                 global_att=(5, 7, 9), bkg=(7, 7), d_model=256),
    "hiera_small": dict(image_size=1024, embed_dim=96, heads=1, stages=(1, 2, 11, 2),
                        global_att=(7, 10, 13), bkg=(7, 7), d_model=256),
    # 128² input -> Hiera stages at 32, 16, 8, 4; windows (8, 4, 14, 7) pad the last two.
    "small": dict(image_size=128, embed_dim=16, heads=1, stages=(1, 1, 2, 1),
                  global_att=(3,), bkg=(7, 7), d_model=32),
}


def build_sam(config):
    """A segment_anything Sam with the layout of build_sam.py's _build_sam, at `config`'s size."""
    c = SAM_CONFIGS[config]
    grid = c["image_size"] // 16
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=c["depth"], embed_dim=c["embed_dim"], img_size=c["image_size"], mlp_ratio=4,
            norm_layer=lambda dim: nn.LayerNorm(dim, eps=1e-6), num_heads=c["heads"],
            patch_size=16, qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=c["global_attn"], window_size=c["window"],
            out_chans=c["prompt_dim"]),
        prompt_encoder=PromptEncoder(
            embed_dim=c["prompt_dim"], image_embedding_size=(grid, grid),
            input_image_size=(c["image_size"], c["image_size"]), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=c["prompt_dim"],
                                          mlp_dim=c["decoder_mlp"], num_heads=c["decoder_heads"]),
            transformer_dim=c["prompt_dim"], iou_head_depth=3, iou_head_hidden_dim=c["iou_hidden"]),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    ).eval()


def randomize_(module, seed):
    """Replaces every parameter and buffer-free weight with seeded random values of a scale that
    keeps activations O(1) (fan-in scaled normals; norms near 1), so outputs are not degenerate."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))
            elif name.endswith("weight"):  # 1-D weights are LayerNorm scales
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
    return module


class SamDecoderFixedCrop(nn.Module):
    """SAM's prompt encoder + mask decoder for ONNX, with the crop to the unpadded image computed
    from orig_im_size's values (the upstream main branch's fix; segment-anything 1.0's
    SamOnnxModel bakes the dummy input's crop into constants).

    Inputs (as SamOnnxModel declares them):
      image_embeddings [1, C, g, g]      the encoder's output
      point_coords     [B, N, 2] float   x, y in the resized image's pixels (longest side = S)
      point_labels     [B, N]   float    1 fg, 0 bg, 2 box top-left, 3 box bottom-right, -1 pad
      mask_input       [1, 1, 4g, 4g]    a previous low-res mask logit
      has_mask_input   [1]               1 to use mask_input, 0 not
      orig_im_size     [2] float         the original image's height, width
    B prompts (e.g. B boxes) run in one call: the image embedding is broadcast to them.
    Outputs: masks [B, 4, H, W] logits at orig_im_size, iou_predictions [B, 4],
             low_res_masks [B, 4, 4g, 4g]. Mask 0 is the single-mask output, 1..3 the multimask."""

    def __init__(self, sam):
        super().__init__()
        self.onnx_helpers = SamOnnxModel(sam, return_single_mask=False)  # point/mask embedding
        self.sam = sam
        self.img_size = sam.image_encoder.img_size

    def predict_masks(self, image_embeddings, sparse, dense):
        """MaskDecoder.predict_masks with the per-prompt copy of the image embedding done by
        broadcasting (Expand) instead of repeat_interleave, whose export with a run-time count
        needs a Loop. Same modules, same arithmetic."""
        decoder = self.sam.mask_decoder
        output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
        output_tokens = output_tokens.unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((output_tokens, sparse), dim=1)
        src = image_embeddings.expand(tokens.shape[0], -1, -1, -1) + dense
        pos_src = self.sam.prompt_encoder.get_dense_pe().expand(tokens.shape[0], -1, -1, -1)
        b, c, h, w = src.shape
        hs, src = decoder.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1: (1 + decoder.num_mask_tokens), :]
        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = decoder.output_upscaling(src)
        hyper_in = torch.stack([decoder.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
                                for i in range(decoder.num_mask_tokens)], dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(b, c, h * w)).reshape(b, -1, h, w)
        return masks, decoder.iou_prediction_head(iou_token_out)

    def postprocess(self, masks, orig_im_size):
        masks = F.interpolate(masks, size=(self.img_size, self.img_size), mode="bilinear",
                              align_corners=False)
        prepadded = SamOnnxModel.resize_longest_image_size(orig_im_size, self.img_size)
        masks = masks[..., : prepadded[0], : prepadded[1]]  # tensor ends: Slice on run-time values
        size = orig_im_size.to(torch.int64)
        return F.interpolate(masks, size=(size[0], size[1]), mode="bilinear", align_corners=False)

    @torch.no_grad()
    def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input,
                orig_im_size):
        sparse = self.onnx_helpers._embed_points(point_coords, point_labels)
        dense = self.onnx_helpers._embed_masks(mask_input, has_mask_input)
        low_res, scores = self.predict_masks(image_embeddings, sparse, dense)
        return self.postprocess(low_res, orig_im_size), scores, low_res


def build_sam2_image_encoder(config):
    """sam2's ImageEncoder (Hiera trunk + FPN neck, scalp 1) laid out as the SAM2.1 yaml does."""
    c = SAM2_CONFIGS[config]
    dims = [c["embed_dim"] * 2 ** i for i in range(4)]
    trunk = Hiera(embed_dim=c["embed_dim"], num_heads=c["heads"], stages=c["stages"],
                  global_att_blocks=c["global_att"],
                  window_pos_embed_bkg_spatial_size=c["bkg"])
    neck = FpnNeck(
        position_encoding=PositionEmbeddingSine(num_pos_feats=c["d_model"], normalize=True,
                                                scale=None, temperature=10000),
        d_model=c["d_model"], backbone_channel_list=dims[::-1], fpn_top_down_levels=[2, 3],
        fpn_interp_model="nearest")
    return ImageEncoder(trunk=trunk, neck=neck, scalp=1)


class Sam2EncoderForDecoder(nn.Module):
    """What SAM2ImagePredictor.set_image computes once per image, as one graph:
      image [1, 3, S, S] (resized to S×S, 0-1 RGB normalised by ImageNet mean/std)
      -> image_embed [1, d, S/16, S/16]   (lowest FPN level + no_mem_embed)
         high_res_feats_0 [1, d/8, S/4, S/4], high_res_feats_1 [1, d/4, S/8, S/8]
            (FPN levels 0 and 1 through the mask decoder's conv_s0 / conv_s1)."""

    def __init__(self, image_encoder, d_model):
        super().__init__()
        self.image_encoder = image_encoder
        self.conv_s0 = nn.Conv2d(d_model, d_model // 8, kernel_size=1, stride=1)
        self.conv_s1 = nn.Conv2d(d_model, d_model // 4, kernel_size=1, stride=1)
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, d_model))

    def load_sam2_checkpoint(self, path):
        """Takes the encoder's, conv_s0/s1's and no_mem_embed's weights from an official SAM2
        checkpoint ({"model": state_dict}) and ignores the rest (memory attention, decoder)."""
        state = torch.load(path, map_location="cpu")
        state = state.get("model", state)
        mine = {}
        for key, value in state.items():
            if key.startswith("image_encoder."):
                mine[key] = value
            elif key.startswith("sam_mask_decoder.conv_s"):
                mine[key[len("sam_mask_decoder."):]] = value
            elif key == "no_mem_embed":
                mine[key] = value
        self.load_state_dict(mine, strict=True)

    @torch.no_grad()
    def forward(self, image):
        fpn = self.image_encoder(image)["backbone_fpn"]
        image_embed = fpn[-1] + self.no_mem_embed.reshape(1, -1, 1, 1)
        return image_embed, self.conv_s0(fpn[0]), self.conv_s1(fpn[1])


def build_sam2_encoder_for_decoder(config):
    c = SAM2_CONFIGS[config]
    return Sam2EncoderForDecoder(build_sam2_image_encoder(config), c["d_model"]).eval()


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
