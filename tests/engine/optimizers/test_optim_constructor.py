"""Parameter groups of the Video Swin optimizer constructor (issue 5 item 3, issue 12 item 4).

The recipes' keys are backbone lr x0.1 and no weight decay on norms and relative-position
bias tables. Two ways of combining them are offered (``paramwise_cfg.key_match``):
'longest', the official code's rule (mmcv 1.x ``custom_keys``: only the longest matching
key applies), which the recipes use; and 'all', mmaction2's product rule. Both are
checked parameter by parameter against specs that find norms by module type, not by
name; 'longest' also against mmengine's own constructor on the full Swin-T recipe
model, 'all' by its AdamW updates against mmaction2's ``SwinOptimWrapperConstructor``.
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
SWIN_T = ('configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')


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


def recipe_optim_cfg(config: str = SCHEDULE, key_match: str = None) -> dict:
    """The recipe's optim_wrapper; ``key_match`` overrides the recipe's rule."""
    cfg = Config.fromfile(config).optim_wrapper.to_dict()
    assert cfg.pop('constructor') == 'VideoSwinOptimWrapperConstructor'
    if key_match is not None:
        cfg['paramwise_cfg']['key_match'] = key_match
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
    cfg = recipe_optim_cfg(key_match='all')
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


def official_multipliers(name: str, owner: nn.Module) -> tuple:
    """The official rule for the recipes' keys, stated per kind of parameter: a bias
    table matches its own key first (lr x1, no decay); anything else in the backbone,
    norms included, matches 'backbone' first (lr x0.1, decay kept); the head has no key."""
    if name.endswith('relative_position_bias_table'):
        return 1.0, 0.0
    if name.startswith('backbone.'):
        return 0.1, 1.0
    assert not isinstance(owner, nn.LayerNorm), name  # no norm outside the backbone
    return 1.0, 1.0


def test_recipe_uses_the_official_longest_key_rule_for_every_swin_t_parameter():
    """Every parameter of the published Swin-T recipe's model: lr and weight-decay
    multipliers as the official rule gives them, and as mmengine's constructor (the same
    longest-key rule as mmcv 1.x) gives them."""
    model_cfg = Config.fromfile(SWIN_T).model
    model_cfg.backbone.pretrained = None
    model = MODELS.build(model_cfg)
    cfg = recipe_optim_cfg(SWIN_T)
    paramwise = cfg.pop('paramwise_cfg')
    assert paramwise['key_match'] == 'longest'
    cfg['type'] = 'OptimWrapper'  # AMP or not does not change the groups
    base_lr, base_wd = cfg['optimizer']['lr'], cfg['optimizer']['weight_decay']
    ours = group_of(VideoSwinOptimWrapperConstructor(cfg, paramwise)(model))
    mmengine = group_of(DefaultOptimWrapperConstructor(
        cfg, dict(custom_keys=paramwise['custom_keys']))(model))

    owners = owning_modules(model)
    listing = []
    for name, param in model.named_parameters():
        lr_mult, decay_mult = official_multipliers(name, owners[name])
        group = ours[id(param)]
        assert group['lr'] == pytest.approx(base_lr * lr_mult, rel=1e-12), name
        assert group['weight_decay'] == pytest.approx(base_wd * decay_mult, abs=1e-15), name
        assert group['lr'] == pytest.approx(mmengine[id(param)].get('lr', base_lr)), name
        assert group['weight_decay'] == pytest.approx(
            mmengine[id(param)].get('weight_decay', base_wd)), name
        listing.append((name, lr_mult, decay_mult, isinstance(owners[name], nn.LayerNorm)))

    # the parameters whose multipliers differ from mmaction2's product rule (issue 12):
    # 12 bias tables at lr x1 (not x0.1), 58 backbone norm tensors decayed (not 0):
    # patch_embed.norm 2 + 12 blocks x (norm1, norm2) x 2 + 3 merging norms x 2 + norm 2
    tables = [n for n, lr, wd, _ in listing if n.endswith('relative_position_bias_table')]
    norms = [n for n, lr, wd, is_norm in listing if is_norm]
    assert len(tables) == 12 and all(lr == 1.0 and wd == 0.0 for n, lr, wd, _ in listing
                                     if n in tables)
    assert len(norms) == 58 and all(lr == 0.1 and wd == 1.0 for n, lr, wd, _ in listing
                                    if n in norms)
    product = group_of(VideoSwinOptimWrapperConstructor(
        cfg, dict(paramwise, key_match='all'))(model))
    differs = {n for n, p in model.named_parameters()
               if (ours[id(p)]['lr'], ours[id(p)]['weight_decay'])
               != (product[id(p)]['lr'], product[id(p)]['weight_decay'])}
    assert differs == set(tables) | set(norms)
    # head, backbone, backbone tables: 3 groups
    assert len({id(g) for g in ours.values()}) == 3


def test_adamw_updates_equal_mmaction2_swin_constructor():
    """Same weights, same gradients, three AdamW steps: our grouped, fused optimizer moves
    every parameter as mmaction2's one-group-per-tensor product-rule constructor does."""
    model_ours = small_swin_recognizer()
    model_ref = copy.deepcopy(model_ours)
    cfg = recipe_optim_cfg(key_match='all')
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
    (dict(key_match='first'), "key_match must be one of \\('longest', 'all'\\)"),
])
def test_bad_paramwise_cfg_fails_naming_the_key(paramwise, message):
    cfg = recipe_optim_cfg()
    with pytest.raises((ValueError, TypeError), match=message):
        VideoSwinOptimWrapperConstructor(cfg, paramwise)
