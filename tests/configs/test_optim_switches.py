"""The training switches of the recipes (issue 5 item 5), exercised through a recipe config:
mixed precision, activation checkpointing and gradient clipping are config entries."""
import copy

import pytest
import torch
from mmaction.structures import ActionDataSample
from mmengine import Config
from mmengine.optim import build_optim_wrapper

from videoswin.registry import MODELS
from videoswin.utils import register_all_modules
from videoswin.utils.setup_env import setup_env

register_all_modules()

RECIPE = ('configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')


def small_recipe(**options) -> Config:
    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict({
        'model.backbone.embed_dim': 8, 'model.backbone.depths': (1, 1),
        'model.backbone.num_heads': (1, 1), 'model.backbone.window_size': (2, 4, 4),
        'model.backbone.drop_path_rate': 0.0, 'model.backbone.pretrained': None,
        'model.cls_head.in_channels': 16, 'model.cls_head.dropout_ratio': 0.0, **options})
    return cfg


def batch(seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return dict(inputs=[torch.randint(0, 256, (1, 3, 4, 32, 32), generator=gen).float()
                        for _ in range(2)],
                data_samples=[ActionDataSample().set_gt_labels(k) for k in (3, 7)])


def build(cfg: Config):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def test_recipe_amp_runs_the_forward_in_bfloat16_on_cpu():
    cfg = small_recipe()
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    setup_env(cfg)  # no GPU: the recipe's AMP becomes bf16 autocast
    model, wrapper = build(cfg)
    dtypes = []
    model.cls_head.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    before = model.cls_head.fc_cls.weight.detach().clone()
    log_vars = model.train_step(batch(), wrapper)
    assert dtypes == [torch.bfloat16]  # the logits come out of an autocast matmul
    assert torch.isfinite(log_vars['loss']) and model.cls_head.fc_cls.weight.dtype == torch.float32
    assert not torch.equal(before, model.cls_head.fc_cls.weight)


def test_activation_checkpointing_stores_less_and_keeps_gradients():
    """``model.backbone.use_checkpoint``: the forward keeps fewer tensors for backward
    (counted with autograd's saved-tensor hooks) and the gradients are unchanged."""
    grads, saved = {}, {}
    for use_checkpoint in (False, True):
        cfg = small_recipe(**{'model.backbone.use_checkpoint': use_checkpoint,
                              'optim_wrapper.type': 'OptimWrapper'})
        model, _ = build(cfg)
        data = model.data_preprocessor(batch(), True)
        nbytes = []

        def pack(tensor):
            nbytes.append(tensor.numel() * tensor.element_size())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            losses = model(**data, mode='loss')
        losses['loss_cls'].backward()
        grads[use_checkpoint] = {n: p.grad.clone() for n, p in model.named_parameters()}
        saved[use_checkpoint] = sum(nbytes)
    assert saved[True] < 0.6 * saved[False]
    for name, grad in grads[False].items():
        torch.testing.assert_close(grads[True][name], grad, rtol=1e-5, atol=1e-7, msg=name)


def global_grad_norm(model) -> float:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                       for g in grads])))


@pytest.mark.parametrize('factor', [0.5, 2.0])
def test_gradient_clipping_bounds_the_global_norm_before_the_step(factor):
    # the raw gradient norm of one iteration, without clipping
    model, _ = build(small_recipe(**{'optim_wrapper.type': 'OptimWrapper'}))
    model(**model.data_preprocessor(batch(), True), mode='loss')['loss_cls'].backward()
    raw = global_grad_norm(model)

    max_norm = factor * raw
    model, wrapper = build(small_recipe(**{'optim_wrapper.type': 'OptimWrapper',
                                           'optim_wrapper.clip_grad.max_norm': max_norm}))
    seen = {}
    original_step = wrapper.optimizer.step

    def step_and_record(*args, **kwargs):
        seen['norm'] = global_grad_norm(model)
        return original_step(*args, **kwargs)

    wrapper.optimizer.step = step_and_record
    model.train_step(batch(), wrapper)
    assert seen['norm'] == pytest.approx(min(raw, max_norm), rel=1e-4)
