"""Parameter groups of the Video Swin optimizer constructor (issue 5 item 3).

The rule (backbone lr x0.1; no weight decay on norms and relative-position bias
tables; multipliers of all matching keys multiply) is checked parameter by
parameter against a spec that finds norms by module type, not by name, and the
resulting AdamW updates against mmaction2's ``SwinOptimWrapperConstructor``.
"""
import copy

import pytest
import torch
from mmaction.engine.optimizers import SwinOptimWrapperConstructor
from mmengine import Config
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from videoswin.engine.optimizers import VideoSwinOptimWrapperConstructor
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

register_all_modules()

SCHEDULE = 'configs/_base_/schedules/adamw_warmup-cosine_30e.py'


def small_swin_recognizer(**backbone) -> nn.Module:
    """A real VideoRecognizer + SwinTransformer3D with the full model's parameter names."""
    torch.manual_seed(0)
    cfg = dict(
        type='VideoRecognizer',
        backbone=dict(type='SwinTransformer3D', embed_dim=8, depths=(1, 1, 2, 1),
                      num_heads=(1, 1, 2, 2), window_size=(2, 3, 3), drop_path_rate=0.,
                      **backbone),
        cls_head=dict(type='VideoClsHead', in_channels=64, num_classes=5, dropout_ratio=0.),
        data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW'))
    return MODELS.build(cfg)


def recipe_optim_cfg() -> dict:
    cfg = Config.fromfile(SCHEDULE).optim_wrapper.to_dict()
    assert cfg.pop('constructor') == 'VideoSwinOptimWrapperConstructor'
    return cfg


def owning_modules(model: nn.Module) -> dict:
    """Full parameter name -> the module that holds it."""
    return {f'{mod_name}.{p_name}' if mod_name else p_name: module
            for mod_name, module in model.named_modules()
            for p_name, _ in module.named_parameters(recurse=False)}


def group_of(optim_wrapper) -> dict:
    return {id(p): group for group in optim_wrapper.optimizer.param_groups for p in group['params']}


def test_product_rule_gives_each_swin_parameter_its_recipe_lr_and_decay():
    model = small_swin_recognizer()
    cfg = recipe_optim_cfg()
    paramwise = cfg.pop('paramwise_cfg')
    base_lr, base_wd = cfg['optimizer']['lr'], cfg['optimizer']['weight_decay']
    wrapper = VideoSwinOptimWrapperConstructor(cfg, paramwise)(model)

    groups, owners = group_of(wrapper), owning_modules(model)
    checked = 0
    for name, param in model.named_parameters():
        in_backbone = name.startswith('backbone.')
        no_decay = (isinstance(owners[name], nn.LayerNorm)
                    or name.endswith('relative_position_bias_table'))
        group = groups[id(param)]
        lr_mult = 0.1 if in_backbone else 1.0
        assert group['lr'] == pytest.approx(base_lr * lr_mult, rel=1e-12), name
        assert group['weight_decay'] == pytest.approx(0.0 if no_decay else base_wd, abs=1e-15), name
        checked += 1
    # every trainable parameter sits in exactly one group
    assert checked == sum(len(g['params']) for g in wrapper.optimizer.param_groups)
    # equal multipliers share a group: head, backbone, backbone norms, backbone tables
    assert len(wrapper.optimizer.param_groups) == 4
    # group 0 (whose lr mmengine logs) is the head at the recipe lr
    assert wrapper.optimizer.param_groups[0]['lr'] == base_lr


def test_official_first_match_rule_differs_on_norms_and_bias_tables_as_documented():
    """mmengine's default constructor applies only the longest matching key (the official
    mmcv 1.x behaviour): full-lr bias tables and decayed backbone norms."""
    model = small_swin_recognizer()
    cfg = recipe_optim_cfg()
    paramwise = cfg.pop('paramwise_cfg')
    base_lr, base_wd = cfg['optimizer']['lr'], cfg['optimizer']['weight_decay']
    official = group_of(DefaultOptimWrapperConstructor(cfg, paramwise)(model))
    ours = group_of(VideoSwinOptimWrapperConstructor(cfg, paramwise)(model))

    owners = owning_modules(model)
    tables = [p for n, p in model.named_parameters() if n.endswith('relative_position_bias_table')]
    norms = [p for n, p in model.named_parameters()
             if n.startswith('backbone.') and isinstance(owners[n], nn.LayerNorm)]
    assert tables and norms
    for p in tables:
        assert (official[id(p)]['lr'], official[id(p)]['weight_decay']) == (base_lr, 0.0)
        assert ours[id(p)]['lr'] == pytest.approx(base_lr * 0.1)
        assert ours[id(p)]['weight_decay'] == 0.0
    for p in norms:
        assert official[id(p)]['lr'] == pytest.approx(base_lr * 0.1)
        assert official[id(p)]['weight_decay'] == base_wd
        assert ours[id(p)]['weight_decay'] == 0.0


def test_adamw_updates_equal_mmaction2_swin_constructor():
    """Same weights, same gradients, three AdamW steps: our grouped, fused optimizer moves
    every parameter as mmaction2's one-group-per-tensor product-rule constructor does."""
    model_ours = small_swin_recognizer()
    model_ref = copy.deepcopy(model_ours)
    cfg = recipe_optim_cfg()
    paramwise = cfg.pop('paramwise_cfg')
    ours = VideoSwinOptimWrapperConstructor(copy.deepcopy(cfg), paramwise)(model_ours)
    # mmaction2 as it ships: the keys directly in paramwise_cfg, AdamW's per-tensor loop
    ref_cfg = copy.deepcopy(cfg)
    ref_cfg['optimizer']['fused'] = False
    ref = SwinOptimWrapperConstructor(ref_cfg, dict(paramwise['custom_keys']))(model_ref)
    assert ours.optimizer.defaults['fused']
    assert len(ref.optimizer.param_groups) > 10 * len(ours.optimizer.param_groups)

    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        for p_ours, p_ref in zip(model_ours.parameters(), model_ref.parameters()):
            grad = torch.randn(p_ours.shape, generator=gen)
            p_ours.grad, p_ref.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
    for (name, p_ours), p_ref in zip(model_ours.named_parameters(), model_ref.parameters()):
        torch.testing.assert_close(p_ours, p_ref, rtol=0, atol=1e-7, msg=name)


def test_frozen_stages_are_left_out_of_the_optimizer():
    model = small_swin_recognizer(frozen_stages=1)
    cfg = recipe_optim_cfg()
    wrapper = VideoSwinOptimWrapperConstructor(cfg, cfg.pop('paramwise_cfg'))(model)
    in_optimizer = set(group_of(wrapper))
    for name, param in model.named_parameters():
        frozen = name.startswith(('backbone.patch_embed.', 'backbone.layers.0.'))
        assert (id(param) in in_optimizer) != frozen, name


@pytest.mark.parametrize('paramwise, message', [
    (dict(norm_decay_mult=0.), 'supports only "custom_keys"'),
    (dict(custom_keys=dict(norm=dict(decay=0.))), 'custom_keys\\["norm"\\] has unsupported'),
    (dict(custom_keys=dict(norm=0.)), 'custom_keys\\["norm"\\] must be a dict'),
])
def test_bad_paramwise_cfg_fails_naming_the_key(paramwise, message):
    cfg = recipe_optim_cfg()
    with pytest.raises((ValueError, TypeError), match=message):
        VideoSwinOptimWrapperConstructor(cfg, paramwise)
