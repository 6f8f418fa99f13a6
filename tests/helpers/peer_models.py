"""Random peer models for the exactness oracles: every tensor drawn, nothing left at init."""
import torch
from transformers import ViTConfig, ViTModel

from videoswin.testing import randomise_ as randomise_far_from_init_

TOL = 1e-4


def randomise_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every parameter random (LayerNorm gains around 1), so no tensor can be skipped."""
    return randomise_far_from_init_(model, seed, weight=0.1, gain=0.1).eval()


def hf_vit(act: str) -> ViTModel:
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2,
                       num_attention_heads=4, intermediate_size=192, layer_norm_eps=1e-6,
                       hidden_act=act)
    return randomise_(ViTModel(config))


def timm_layout(vit: ViTModel) -> dict:
    """The ViT's weights under timm names (q, k, v stacked into qkv), written out here
    independently of the library's converter."""
    sd = vit.state_dict()
    out = {'cls_token': sd['embeddings.cls_token'],
           'pos_embed': sd['embeddings.position_embeddings'],
           'patch_embed.proj.weight': sd['embeddings.patch_embeddings.projection.weight'],
           'patch_embed.proj.bias': sd['embeddings.patch_embeddings.projection.bias'],
           'norm.weight': sd['layernorm.weight'], 'norm.bias': sd['layernorm.bias'],
           'head.weight': torch.zeros(10, 48), 'head.bias': torch.zeros(10)}
    for i in range(2):
        p = f'layers.{i}.'
        for kind in ('weight', 'bias'):
            out[f'blocks.{i}.attn.qkv.{kind}'] = torch.cat(
                [sd[f'{p}attention.{n}_proj.{kind}'] for n in 'qkv'])
            out[f'blocks.{i}.attn.proj.{kind}'] = sd[f'{p}attention.o_proj.{kind}']
            out[f'blocks.{i}.norm1.{kind}'] = sd[f'{p}layernorm_before.{kind}']
            out[f'blocks.{i}.norm2.{kind}'] = sd[f'{p}layernorm_after.{kind}']
            out[f'blocks.{i}.mlp.fc1.{kind}'] = sd[f'{p}mlp.fc1.{kind}']
            out[f'blocks.{i}.mlp.fc2.{kind}'] = sd[f'{p}mlp.fc2.{kind}']
    return out


def saved(vit: ViTModel, tmp_path, form: str) -> str:
    if form == 'hf-directory':
        vit.save_pretrained(tmp_path / 'vit')
        return str(tmp_path / 'vit')
    weights = timm_layout(vit)
    if form == 'timm-linear-patch':     # early JAX ports: the patch filter as a linear kernel
        weights['patch_embed.proj.weight'] = weights['patch_embed.proj.weight'].flatten(1)
    torch.save({'model': weights}, tmp_path / 'vit.pth')
    return str(tmp_path / 'vit.pth')
