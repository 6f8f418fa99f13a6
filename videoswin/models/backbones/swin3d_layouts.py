"""Key layouts of the Swin checkpoints users hold, and conversions to ours (Swin only).

Our layout is the official Video Swin one (``patch_embed.*``, ``layers.i.blocks.j.attn.*``,
``layers.i.downsample.*``, ``norm``; recognizers add ``backbone.``/``cls_head.``). The 2D
ImageNet release of microsoft/Swin-Transformer uses the same names with 4-D patch
kernels, so 2D checkpoints are brought to that "Microsoft layout" and inflated from there.

HF transformers names (``SwinModel``; ``SwinForImageClassification`` adds ``swin.`` and
``classifier``). Two generations exist; transformers 5.x renames modules in memory but
writes the 4.x names to disk (``save_pretrained`` reverses the mapping listed under
``"swin"`` in ``transformers/conversion_mapping.py``), while ``torch.save`` of a 5.x
``state_dict()`` keeps the new names, so files come with either:

* ``attention.self.{query,key,value}`` (4.x) / ``attention.{q,k,v}_proj`` (5.x);
* ``attention.output.dense`` / ``attention.o_proj``;
* ``attention.self.relative_position_bias_table`` /
  ``attention.relative_position_bias.relative_position_bias_table``;
* ``attention.self.relative_position_index`` (a saved buffer in 4.x, not saved by 5.x);
* ``intermediate.dense``, ``output.dense`` / ``mlp.fc1``, ``mlp.fc2``.

Names shared by both: ``embeddings.patch_embeddings.projection``, ``embeddings.norm``,
``encoder.layers.i.blocks.j.layernorm_{before,after}``, ``encoder.layers.i.downsample.*``,
``layernorm``.
"""
import re
from typing import Dict

import torch

from videoswin.checkpoint.detect import StateDict

#: Buffers every Swin model rebuilds from its window size; never taken from a file.
REBUILT_BUFFERS = ('relative_position_index', 'attn_mask')

# Inside ``encoder.layers.i.blocks.j.``: HF module -> Microsoft module (q/k/v fused apart).
_HF_BLOCK_MODULES: Dict[str, str] = {
    'layernorm_before': 'norm1',
    'layernorm_after': 'norm2',
    'attention.output.dense': 'attn.proj',  # 4.x
    'attention.o_proj': 'attn.proj',  # 5.x
    'intermediate.dense': 'mlp.fc1',  # 4.x
    'output.dense': 'mlp.fc2',  # 4.x
    'mlp.fc1': 'mlp.fc1',  # 5.x
    'mlp.fc2': 'mlp.fc2',  # 5.x
}
# Inside a block: HF tensor name -> Microsoft tensor name, for tensors that are not weight/bias.
_HF_BLOCK_TENSORS: Dict[str, str] = {
    'attention.self.relative_position_bias_table': 'attn.relative_position_bias_table',  # 4.x
    'attention.relative_position_bias.relative_position_bias_table':
    'attn.relative_position_bias_table',  # 5.x
    'attention.self.relative_position_index': 'attn.relative_position_index',  # 4.x
}
_HF_QKV: Dict[str, str] = {  # module -> which third of the fused qkv (4.x and 5.x names)
    'attention.self.query': 'q', 'attention.q_proj': 'q',
    'attention.self.key': 'k', 'attention.k_proj': 'k',
    'attention.self.value': 'v', 'attention.v_proj': 'v',
}
_HF_TOP_LEVEL: Dict[str, str] = {
    'embeddings.patch_embeddings.projection': 'patch_embed.proj',
    'embeddings.norm': 'patch_embed.norm',
    'layernorm': 'norm',
    'classifier': 'head',
}
_HF_TOP_LEVEL_TENSORS: Dict[str, str] = {
    'embeddings.position_embeddings': 'absolute_pos_embed',
    'embeddings.mask_token': 'mask_token',
}
_HF_BLOCK = re.compile(r'^encoder\.layers\.(\d+)\.blocks\.(\d+)\.(.+)$')
_HF_DOWNSAMPLE = re.compile(r'^encoder\.layers\.(\d+)\.downsample\.(.+)$')

HF_PATCH_KEY = 'embeddings.patch_embeddings.projection.weight'


def is_hf_swin(state_dict: StateDict) -> bool:
    """True for a HF transformers Swin state dict (SwinModel, or with the ``swin.`` prefix)."""
    return HF_PATCH_KEY in state_dict or f'swin.{HF_PATCH_KEY}' in state_dict


def _hf_key_to_microsoft(key: str) -> str:
    """One HF key -> its Microsoft name (unknown keys come back unchanged)."""
    if key in _HF_TOP_LEVEL_TENSORS:
        return _HF_TOP_LEVEL_TENSORS[key]
    stem, _, param = key.rpartition('.')
    if stem in _HF_TOP_LEVEL:
        return f'{_HF_TOP_LEVEL[stem]}.{param}'
    downsample = _HF_DOWNSAMPLE.match(key)
    if downsample:
        return f'layers.{downsample.group(1)}.downsample.{downsample.group(2)}'
    block = _HF_BLOCK.match(key)
    if block:
        prefix, rest = f'layers.{block.group(1)}.blocks.{block.group(2)}', block.group(3)
        if rest in _HF_BLOCK_TENSORS:
            return f'{prefix}.{_HF_BLOCK_TENSORS[rest]}'
        module, _, param = rest.rpartition('.')
        if module in _HF_BLOCK_MODULES:
            return f'{prefix}.{_HF_BLOCK_MODULES[module]}.{param}'
    return key


def hf_to_microsoft(state_dict: StateDict) -> StateDict:
    """HF transformers Swin (4.x or 5.x names) -> microsoft/Swin-Transformer 2D layout.

    q, k and v are concatenated (in that order along the output dimension) into the
    fused ``qkv``. Keys with no Microsoft counterpart keep their HF name, so that the
    loader reports them.
    """
    converted: StateDict = {}
    qkv_parts: Dict[str, Dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        key = key[len('swin.'):] if key.startswith('swin.') else key
        block = _HF_BLOCK.match(key)
        module, _, param = block.group(3).rpartition('.') if block else ('', '', '')
        if block and module in _HF_QKV:
            fused = f'layers.{block.group(1)}.blocks.{block.group(2)}.attn.qkv.{param}'
            qkv_parts.setdefault(fused, {})[_HF_QKV[module]] = value
        else:
            converted[_hf_key_to_microsoft(key)] = value
    for key, parts in qkv_parts.items():
        if set(parts) != {'q', 'k', 'v'}:
            raise KeyError(f'HF Swin checkpoint: {key} needs query, key and value; '
                           f'found only {sorted(parts)}')
        converted[key] = torch.cat([parts['q'], parts['k'], parts['v']], dim=0)
    return converted


def mmaction2_to_official(state_dict: StateDict) -> StateDict:
    """mmaction2 1.x names the backbone's last LayerNorm ``norm3``; the official code ``norm``."""
    pattern = re.compile(r'^((?:backbone\.)?)norm3\.')
    return {pattern.sub(r'\1norm.', key): value for key, value in state_dict.items()}


def has_mmaction2_norm3(state_dict: StateDict) -> bool:
    """True for mmaction2's name of the last LayerNorm (see :func:`mmaction2_to_official`)."""
    return any(re.match(r'^(backbone\.)?norm3\.', key) for key in state_dict)


def is_rebuilt_buffer(key: str) -> bool:
    """A Swin buffer (:data:`REBUILT_BUFFERS`) the model builds itself, never read from a file."""
    return key.rpartition('.')[2] in REBUILT_BUFFERS
