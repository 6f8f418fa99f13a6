"""The recipes' lr schedule (issue 12 items 4 and 5): the official stepping, and ends that
follow ``train_cfg.max_epochs``.

Official (mmcv 1.x ``CosineAnnealing`` with ``by_epoch=True`` and a 2.5-epoch linear
``warmup_by_epoch``): the cosine value changes once per epoch, the warm-up factor every
iteration, and the two multiply. The schedules are run by a real mmengine Runner, which
is also what fills the cosine's unset ``end`` from ``train_cfg.max_epochs``; the lr each
iteration trains with is compared with the closed form.
"""
import math
import os.path as osp

import pytest
import torch
from mmengine import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from videoswin.utils import register_all_modules

register_all_modules()

SCHEDULES = 'configs/_base_/schedules'
RECIPE = ('configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
EPOCH_LEN = 10  # iterations per epoch; warm-up W = int(2.5 x 10) = 25 iterations


def recipe_lr(base_lr: float, it: int, epoch_len: int, epochs: int) -> float:
    """Closed form of the recipe schedule: cosine by epoch times mmengine's LinearLR,
    0.1 + 0.9 * it / (W - 1) up to W - 1, W = int(2.5 * epoch_len)."""
    warmup = int(2.5 * epoch_len)
    cosine = 0.5 * (1 + math.cos(math.pi * (it // epoch_len) / epochs))
    return base_lr * cosine * (0.1 + 0.9 * min(it / (warmup - 1), 1.0))


def official_lr(base_lr: float, it: int, epoch_len: int, epochs: int) -> float:
    """The official mmcv hooks: regular lr = cosine at the current epoch; for it < W
    (W = 2.5 epochs in iterations, not rounded) times 1 - (1 - it / W)(1 - 0.1)."""
    warmup = 2.5 * epoch_len
    cosine = 0.5 * (1 + math.cos(math.pi * (it // epoch_len) / epochs))
    factor = 1 - (1 - it / warmup) * (1 - 0.1) if it < warmup else 1.0
    return base_lr * cosine * factor


class ToyRecognizer(BaseModel):
    """Parameter names like a recognizer's, so the recipe's constructor groups them."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.cls_head = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.cls_head(self.backbone(inputs)).pow(2).mean())


class LrRecorder(Hook):
    """The lr of the head ('default') and the backbone group at every iteration (mmengine's
    wrapper adds a group of its own, left out), and the cosine scheduler as built."""

    def __init__(self) -> None:
        self.seen, self.cosine = [], None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.seen.append(self.lrs(runner))

    def after_train(self, runner) -> None:
        self.cosine = runner.param_schedulers[1]

    @staticmethod
    def lrs(runner) -> list:
        by_name = {g.get('name'): g['lr'] for g in runner.optim_wrapper.param_groups}
        return [by_name['default'], by_name['backbone']]


def run_schedule(cfg: Config, work_dir) -> LrRecorder:
    recorder = LrRecorder()
    runner = Runner(
        model=ToyRecognizer(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=[dict(inputs=torch.ones(2))] * EPOCH_LEN, batch_size=1,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=cfg.optim_wrapper, param_scheduler=cfg.param_scheduler,
        train_cfg=dict(by_epoch=True, max_epochs=cfg.train_cfg.max_epochs),
        default_hooks=dict(checkpoint=None, logger=dict(type='LoggerHook', interval=1000)),
        custom_hooks=[recorder], default_scope='videoswin', log_level='WARNING')
    runner.train()
    return recorder


@pytest.mark.parametrize('schedule, epochs', [('adamw_warmup-cosine_30e.py', 30),
                                              ('adamw_warmup-cosine_60e.py', 60),
                                              ('adamw_warmup-cosine_30e.py', 8)])
def test_lr_is_cosine_by_epoch_times_linear_warmup_by_iteration(schedule, epochs, tmp_path):
    cfg = Config.fromfile(f'{SCHEDULES}/{schedule}')
    cfg.merge_from_dict({'train_cfg.max_epochs': epochs})  # as --cfg-options does
    recorder = run_schedule(cfg, tmp_path)
    base_lr = cfg.optim_wrapper.optimizer.lr

    assert len(recorder.seen) == epochs * EPOCH_LEN
    warmup = int(2.5 * EPOCH_LEN)
    for it, (head_lr, backbone_lr) in enumerate(recorder.seen):
        expected = recipe_lr(base_lr, it, EPOCH_LEN, epochs)
        assert head_lr == pytest.approx(expected, rel=1e-9, abs=1e-15), it
        assert backbone_lr == pytest.approx(0.1 * expected, rel=1e-9, abs=1e-15), it
        # the official hooks reach the full factor at W instead of W - 1
        assert abs(head_lr - official_lr(base_lr, it, EPOCH_LEN, epochs)) <= \
            0.9 * base_lr / (warmup - 1), it
    # constant within an epoch after the warm-up; the last epoch at the cosine's last step
    assert len({lr for lr, _ in recorder.seen[-EPOCH_LEN:]}) == 1
    assert recorder.seen[-1][0] == pytest.approx(
        base_lr * 0.5 * (1 + math.cos(math.pi * (epochs - 1) / epochs)), rel=1e-9)
    # the cosine reaches eta_min = 0 where train_cfg.max_epochs ends, not at the base's 30
    cosine = recorder.cosine
    assert (cosine.end, cosine.T_max, cosine.eta_min) == (epochs, epochs, 0)


def test_explicit_end_is_kept():
    cfg = Config.fromfile(f'{SCHEDULES}/adamw_warmup-cosine_30e.py')
    cosine = cfg.param_scheduler[1]
    assert 'end' not in cosine and 'T_max' not in cosine  # filled by the runner
    cfg.merge_from_dict({'param_scheduler.1.end': 12, 'train_cfg.max_epochs': 8})
    assert cfg.param_scheduler[1].end == 12  # a user's explicit end stays


def test_per_epoch_cosine_has_more_lr_area_than_per_iteration_as_documented(tmp_path):
    """docs/recipes.md: the official staircase trains with 1/30 (30 epochs) more lr area
    than a per-iteration cosine; measured here on the two real schedules."""
    cfg = Config.fromfile(f'{SCHEDULES}/adamw_warmup-cosine_30e.py')
    staircase = sum(lr for lr, _ in run_schedule(cfg, tmp_path / 'a').seen)
    cfg.merge_from_dict({'param_scheduler.1.convert_to_iter_based': True})
    smooth = sum(lr for lr, _ in run_schedule(cfg, tmp_path / 'b').seen)
    assert staircase / smooth - 1 == pytest.approx(1 / 30, abs=0.003)


def test_eight_epoch_child_of_a_recipe_reaches_zero_at_its_own_last_epoch(tmp_path):
    """A child config that only shortens the run, written as mmaction2 configs do."""
    child = tmp_path / 'swin-tiny_8e.py'
    child.write_text(f"_base_ = ['{osp.abspath(RECIPE)}']\n"
                     "train_cfg = dict(max_epochs=8)\n"
                     "optim_wrapper = dict(type='OptimWrapper')\n")  # fp32: a toy model on CPU
    cfg = Config.fromfile(str(child))
    recorder = run_schedule(cfg, tmp_path / 'run')
    base_lr = cfg.optim_wrapper.optimizer.lr
    assert len(recorder.seen) == 8 * EPOCH_LEN
    for it, (head_lr, _) in enumerate(recorder.seen):
        assert head_lr == pytest.approx(recipe_lr(base_lr, it, EPOCH_LEN, 8), rel=1e-9), it
    assert (recorder.cosine.end, recorder.cosine.T_max) == (8, 8)
    # the last epoch trains at the cosine's last step before 0, (1 + cos(7 pi / 8)) / 2
    # = 0.038 x lr; the base's 30-epoch cosine would still be at 0.83 x lr
    assert recorder.seen[-1][0] == pytest.approx(0.03806 * base_lr, rel=1e-3)
