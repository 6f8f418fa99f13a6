"""The batch contract (issue 5 item 4): global batch = processes x per-process batch x
accumulation steps; lr scales linearly from the recipe's global batch when asked; a
mismatch without scaling warns; accumulation never shrinks the loader batch. Applied by
BatchContractHook, a default hook of every config (issue 15)."""
import copy
from unittest.mock import patch

import pytest
import torch
import torch.distributed as dist
from mmaction.structures import ActionDataSample
from mmengine import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner

from helpers.toy_runner import CrashAfter, DropoutClassifier, NoisyDataset
from videoswin.checkpoint import install_safe_loader
from videoswin.engine.batch_contract import (BatchContract, mismatch_warning, read_contract,
                                             split_global_batch)
from videoswin.engine.hooks import BatchContractHook
from videoswin.engine.runner import build_runner
from videoswin.registry import DATASETS, MODELS
from videoswin.utils import register_all_modules

register_all_modules()
# the toy model and data by name, so the config of a from_cfg Runner can be dumped
MODELS.register_module('ContractToyClassifier', module=DropoutClassifier, force=True)
DATASETS.register_module('ContractToyDataset', module=NoisyDataset, force=True)


def test_global_batch_is_the_product_of_the_three_factors():
    contract = read_contract(per_process=2, accumulation=4, world_size=8, recipe_batch=64)
    assert contract.global_batch == 64 and contract.lr_ratio == 1.0
    assert contract.describe() == ('global batch 64 = 8 processes x 2 per process x '
                                   '4 accumulation steps (recipe: 64)')
    half = read_contract(per_process=8, accumulation=1, world_size=4, recipe_batch=64)
    assert half.global_batch == 32 and half.lr_ratio == 0.5


@pytest.mark.parametrize('kwargs, key', [
    (dict(per_process=0, accumulation=8), 'train_dataloader.batch_size'),
    (dict(per_process=8, accumulation=0), 'optim_wrapper.accumulative_counts'),
    (dict(per_process=2.5, accumulation=1), 'train_dataloader.batch_size'),
    (dict(per_process=1, accumulation=True), 'optim_wrapper.accumulative_counts'),
])
def test_a_zero_or_fractional_factor_fails_naming_its_config_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        read_contract(world_size=1, recipe_batch=64, **kwargs)


@pytest.mark.parametrize('world_size', [1, 2, 4, 8, 16, 32, 64])
@pytest.mark.parametrize('max_per_process', range(1, 11))
def test_split_keeps_the_global_batch_with_the_largest_loader_batch_that_fits(
        world_size, max_per_process):
    per_process, steps = split_global_batch(64, world_size, max_per_process)
    assert world_size * per_process * steps == 64
    assert 1 <= per_process <= max_per_process and steps >= 1
    owed = 64 // world_size
    assert not any(owed % b == 0 for b in range(per_process + 1, min(owed, max_per_process) + 1))


def test_split_refuses_a_process_count_that_does_not_divide_the_batch():
    with pytest.raises(ValueError, match='not divisible by 3 processes'):
        split_global_batch(64, 3, 8)


def test_mismatch_warns_only_when_scaling_is_off_and_its_fix_restores_the_recipe_batch():
    assert mismatch_warning(read_contract(8, 1, 8, 64), scale_enabled=False) is None
    small = read_contract(per_process=4, accumulation=1, world_size=2, recipe_batch=64)
    assert mismatch_warning(small, scale_enabled=True) is None
    message = mismatch_warning(small, scale_enabled=False)
    assert 'global batch 8 = 2 processes x 4 per process x 1 accumulation step' in message
    assert '--auto-scale-lr to scale it by 0.125' in message
    steps = int(message.split('optim_wrapper.accumulative_counts=')[1].split()[0])
    assert read_contract(4, steps, 2, 64).global_batch == 64

    # a per-process batch that cannot reach 64 by accumulation: suggest a new split
    odd = read_contract(per_process=3, accumulation=1, world_size=2, recipe_batch=64)
    message = mismatch_warning(odd, scale_enabled=False)
    batch = int(message.split('train_dataloader.batch_size=')[1].split()[0])
    steps = int(message.split('optim_wrapper.accumulative_counts=')[1].split()[0])
    assert 1 <= batch <= 3 and BatchContract(2, batch, steps, 64).global_batch == 64


def _recognizer() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='VideoRecognizer',
        backbone=dict(type='SwinTransformer3D', embed_dim=8, depths=(1, 1), num_heads=(1, 2),
                      window_size=(2, 4, 4), drop_path_rate=0.),
        cls_head=dict(type='VideoClsHead', in_channels=16, num_classes=3, dropout_ratio=0.),
        data_preprocessor=dict(type='ActionDataPreprocessor', format_shape='NCTHW')))


def _batch(clips: torch.Tensor, labels: torch.Tensor) -> dict:
    return dict(inputs=[clip[None] for clip in clips],
                data_samples=[ActionDataSample().set_gt_labels(int(y)) for y in labels])


def test_accumulating_4_loader_batches_of_2_updates_like_one_batch_of_8():
    """The loader batch stays 2 (never 8 // 4 or 2 // 4); mmengine averages the loss over
    the 4 micro-batches, so the update equals one batch of 8 (SGD lr 1: update = -grad)."""
    gen = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 256, (8, 3, 4, 16, 16), generator=gen).float()
    labels = torch.randint(0, 3, (8, ), generator=gen)
    accumulated, whole = _recognizer(), _recognizer()
    before = copy.deepcopy(whole.state_dict())

    wrapper = OptimWrapper(torch.optim.SGD(accumulated.parameters(), lr=1.0),
                           accumulative_counts=4)
    wrapper.initialize_count_status(accumulated, init_counts=0, max_counts=4)
    for start in range(0, 8, 2):
        batch = _batch(clips[start:start + 2], labels[start:start + 2])
        assert len(batch['inputs']) == 2
        accumulated.train_step(batch, wrapper)
    whole.train_step(_batch(clips, labels),
                     OptimWrapper(torch.optim.SGD(whole.parameters(), lr=1.0)))

    moved = 0
    for name, value in accumulated.state_dict().items():
        torch.testing.assert_close(value, whole.state_dict()[name], rtol=1e-4, atol=1e-6, msg=name)
        moved += int(not torch.equal(value, before[name]))
    assert moved > 10  # the comparison is not vacuous: parameters did change


RECIPE = ('configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')


def recipe_runner(tmp_path, **options) -> Runner:
    """A Runner of the Swin-T recipe with a small model (nothing is trained or loaded)."""
    cfg = Config.fromfile(RECIPE)
    cfg.merge_from_dict({
        'model.backbone.embed_dim': 8, 'model.backbone.depths': (1, 1),
        'model.backbone.num_heads': (1, 1), 'model.backbone.pretrained': None,
        'model.cls_head.in_channels': 16, 'optim_wrapper.type': 'OptimWrapper',
        'work_dir': str(tmp_path), 'experiment_name': f'contract-{tmp_path.name}', **options})
    return Runner.from_cfg(cfg)


def apply_batch_contract(runner: Runner):
    """What runner.train() does up to ``before_run``: build the optimizer, apply mmengine's
    own auto_scale_lr, then run the hook (the schedulers, which would need the recipe's
    dataset, are left as configs; the toy-runner test below covers them)."""
    hook = next(h for h in runner.hooks if isinstance(h, BatchContractHook))
    if runner.optim_wrapper is not None:
        runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
        runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    runner.call_hook('before_run')
    return hook.contract


def built_group_lrs(runner: Runner) -> list:
    """The lrs of the optimizer's groups once the batch contract is applied."""
    return sorted({group['lr'] for group in runner.optim_wrapper.optimizer.param_groups})


@pytest.mark.parametrize('batch, steps', [(2, 4), (8, 1), (1, 8)])
def test_auto_scale_lr_counts_accumulation_and_scales_once(tmp_path, batch, steps):
    runner = recipe_runner(tmp_path, **{'train_dataloader.batch_size': batch,
                                        'optim_wrapper.accumulative_counts': steps,
                                        'auto_scale_lr.enable': True})
    contract = apply_batch_contract(runner)
    assert contract == BatchContract(1, batch, steps, 64)
    ratio = batch * steps / 64
    # the recipe's head lr (1e-3) and backbone lr (1e-4), each scaled exactly once
    assert built_group_lrs(runner) == pytest.approx([1e-4 * ratio, 1e-3 * ratio], rel=1e-12)
    assert runner.optim_wrapper.base_param_settings['lr'] == pytest.approx(1e-3 * ratio)


def test_without_scaling_the_recipe_lr_stays_and_a_mismatch_is_logged(tmp_path):
    runner = recipe_runner(tmp_path, **{'train_dataloader.batch_size': 2,
                                        'optim_wrapper.accumulative_counts': 4})
    logger = MMLogger.get_current_instance()
    with patch.object(logger, 'warning', wraps=logger.warning) as warn, \
            patch.object(logger, 'log', wraps=logger.log) as log:
        contract = apply_batch_contract(runner)
    assert contract.global_batch == 8 and contract.lr_ratio == 0.125
    messages = [str(c.args[-1]) for c in warn.call_args_list + log.call_args_list]
    assert any('accumulative_counts=32' in m and 'recipe' in m for m in messages), messages
    assert built_group_lrs(runner) == pytest.approx([1e-4, 1e-3], rel=1e-12)


def test_a_test_only_runner_has_no_contract(tmp_path):
    runner = recipe_runner(tmp_path, train_dataloader=None, train_cfg=None, optim_wrapper=None,
                           param_scheduler=None)
    assert apply_batch_contract(runner) is None


class LrLog(Hook):
    """The lrs each iteration starts with (after warmup/cosine of the previous step)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.lrs = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.lrs[runner.iter] = {k: list(v) for k, v in runner.optim_wrapper.get_lr().items()}


def python_user_runner(work_dir, lr: float, scale: bool, hooks=(), resume=False,
                       strategy=None, launcher='none') -> Runner:
    """``Runner.from_cfg`` of our default runtime with a toy model and data: batch 4,
    2 accumulation steps, 1 process = global 8 against a recipe batch of 16."""
    install_safe_loader()
    cfg = Config.fromfile('configs/_base_/default_runtime.py')
    cfg.merge_from_dict(dict(
        model=dict(type='ContractToyClassifier'), work_dir=str(work_dir),
        experiment_name=f'contract-{work_dir.name}-{len(hooks)}-{resume}',
        train_dataloader=dict(dataset=dict(type='ContractToyDataset'),
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate'), batch_size=4),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=lr, weight_decay=0.05),
                           paramwise_cfg=dict(custom_keys={'cls_head': dict(lr_mult=10.)}),
                           accumulative_counts=2),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                 convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', T_max=1, eta_min=1e-4, by_epoch=True, begin=1,
                 end=2, convert_to_iter_based=True)],
        auto_scale_lr=dict(enable=scale, base_batch_size=16),
        randomness=dict(seed=0), resume=resume, launcher=launcher,
        log_level='WARNING'))
    cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook', interval=1)
    cfg.default_hooks.pop('checkpoint_layout')  # a toy checkpoint is no Swin layout
    cfg.strategy, cfg.launcher = strategy, launcher
    runner = build_runner(cfg)  # as tools/train.py: FlexibleRunner for a strategy
    for hook in hooks:  # test-only hooks, unregistered: given as objects
        runner.register_hook(hook)
    return runner


@pytest.mark.parametrize('strategy', [None, dict(type='SingleDeviceStrategy')])
def test_a_python_runner_from_our_configs_scales_the_lr_once_also_across_a_resume(
        tmp_path, strategy):
    """lr 0.1 for a batch of 16 trained with 8 (4 x 2 accumulation steps) runs exactly
    like lr 0.05 configured by hand: warmup, cosine and the logged base_lr included.
    FlexibleRunner (here with its single-device strategy; FSDP's differs only in
    wrapping) builds through its strategy and resumes *before* ``before_run``."""
    def run(name, lr, scale, hooks, resume=False):
        python_user_runner(tmp_path / name, lr, scale, hooks, resume, strategy).train()

    scaled, by_hand = LrLog(), LrLog()
    run('scaled', 0.1, True, [scaled])
    run('by_hand', 0.05, False, [by_hand])
    assert scaled.lrs[0]['base_lr'] == pytest.approx([0.05 * 0.1], rel=1e-12)
    assert sorted(set(scaled.lrs[0]['lr'])) == pytest.approx([0.005, 0.05], rel=1e-12)
    assert len(scaled.lrs) == 12
    for it, lrs in by_hand.lrs.items():
        for key, values in lrs.items():
            assert scaled.lrs[it][key] == pytest.approx(values, rel=1e-12), (it, key)

    # interrupted in epoch 2 (epoch 1's checkpoint written), then resumed: same lrs again
    first, resumed = LrLog(), LrLog()
    with pytest.raises(KeyboardInterrupt):
        run('cut', 0.1, True, [first, CrashAfter(7)])
    run('cut', 0.1, True, [resumed], resume=True)
    assert sorted(first.lrs) == list(range(7)) and sorted(resumed.lrs) == list(range(6, 12))
    for it, lrs in {**first.lrs, **resumed.lrs}.items():
        assert lrs == {k: pytest.approx(v, rel=1e-12) for k, v in scaled.lrs[it].items()}, it



def test_fsdp_scales_the_lr_once_like_the_plain_runner(tmp_path, monkeypatch):
    """FSDPStrategy (a world of one CPU rank over gloo) builds and scales through its
    strategy: every iteration's lrs equal those of lr 0.05 configured by hand."""
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', LOCAL_WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1').items():
        monkeypatch.setenv(key, value)
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0,
                            world_size=1)
    try:
        sharded = LrLog()
        python_user_runner(tmp_path / 'fsdp', 0.1, True, [sharded],
                           strategy=dict(type='FSDPStrategy'), launcher='pytorch').train()
    finally:
        dist.destroy_process_group()
    by_hand = LrLog()
    python_user_runner(tmp_path / 'by_hand', 0.05, False, [by_hand]).train()
    assert len(sharded.lrs) == 12
    for it, lrs in by_hand.lrs.items():
        assert sharded.lrs[it] == {k: pytest.approx(v, rel=1e-12) for k, v in lrs.items()}, it
