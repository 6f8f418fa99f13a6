"""Checkpoint files as users hold them, with random weights, for the loading tests."""
from pathlib import Path
from typing import Dict, Sequence

import torch

from videoswin.models.backbones.swin3d import SwinTransformer3D
from videoswin.testing import random_state_dict

# the demo model (configs/demo/swin-micro_synthetic.py) and Swin-T
MICRO = dict(embed_dim=48, depths=(1, 1, 1, 1), num_heads=(2, 4, 8, 16))
TINY = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))


def microsoft_swin_2d(embed_dim: int, depths: Sequence[int], num_heads: Sequence[int],
                      seed: int = 0, window: int = 7) -> Dict[str, torch.Tensor]:
    """A microsoft/Swin-Transformer ImageNet state dict: 4-D patch kernel, one
    (2W-1)^2-row bias table per block, its index buffers and a 1000-class head.

    Drawn through a one-frame 3D model, whose names are the 2D ones."""
    frame = SwinTransformer3D(embed_dim=embed_dim, depths=depths, num_heads=num_heads,
                              patch_size=(1, 4, 4), window_size=(1, window, window))
    state = random_state_dict(frame, seed)
    state['patch_embed.proj.weight'] = state['patch_embed.proj.weight'][:, :, 0]
    for key in [k for k in state if k.endswith('relative_position_index')]:
        state[key] = torch.zeros(window**2, window**2, dtype=torch.long)
    features = embed_dim * 2**(len(depths) - 1)
    generator = torch.Generator().manual_seed(seed + 1)
    state['head.weight'] = torch.randn(1000, features, generator=generator) * 0.02
    state['head.bias'] = torch.zeros(1000)
    return state


def write_microsoft_swin_2d(path: Path, arch: dict = MICRO, seed: int = 0) -> Path:
    """``{'model': state}`` as the Swin-Transformer release files hold it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'model': microsoft_swin_2d(**arch, seed=seed)}, path)
    return path


def rename_hf_5x_to_4x(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """5.x in-memory names -> the 4.x names (what 4.x wrote and 5.x still writes to disk).

    The 4.x ``relative_position_index`` buffers are not recreated; they are rebuilt on
    load anyway.
    """
    pairs = [('attention.q_proj', 'attention.self.query'),
             ('attention.k_proj', 'attention.self.key'),
             ('attention.v_proj', 'attention.self.value'),
             ('attention.o_proj', 'attention.output.dense'),
             ('attention.relative_position_bias.relative_position_bias_table',
              'attention.self.relative_position_bias_table'),
             ('mlp.fc1', 'intermediate.dense'),
             ('mlp.fc2', 'output.dense')]
    renamed = {}
    for key, value in state_dict.items():
        for new, old in pairs:
            if f'.{new}.' in key or key.endswith(f'.{new}'):
                key = key.replace(f'.{new}', f'.{old}', 1)
                break
        renamed[key] = value
    return renamed
