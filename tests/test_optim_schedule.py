"""The recipe lr schedule (issue 5 item 1): 2.5-epoch linear warm-up from 0.1 x lr, cosine
to 0 over all epochs, both stepped per iteration and multiplied during warm-up (the
official mmcv hook's formula)."""
import math
import warnings

import pytest
import torch
from mmengine import Config
from mmengine.optim import OptimWrapper

from videoswin.registry import PARAM_SCHEDULERS


def official_lr(base_lr: float, it: int, epoch_len: int, epochs: int,
                warmup_epochs: float) -> float:
    """The official mmcv hook: cosine over the whole run times the warm-up factor
    1 - (1 - it / W)(1 - 0.1) for the first W iterations."""
    total, warmup = epochs * epoch_len, int(warmup_epochs * epoch_len)
    cosine = 0.5 * base_lr * (1 + math.cos(math.pi * it / total))
    factor = 1 - (1 - it / warmup) * (1 - 0.1) if it < warmup else 1.0
    return cosine * factor


def mmengine_lr(base_lr: float, it: int, epoch_len: int, epochs: int,
                warmup_epochs: float) -> float:
    """The same, except that mmengine's LinearLR reaches the full factor at W - 1."""
    total, warmup = epochs * epoch_len, int(warmup_epochs * epoch_len)
    cosine = 0.5 * base_lr * (1 + math.cos(math.pi * it / total))
    return cosine * (0.1 + 0.9 * min(it / (warmup - 1), 1.0))


@pytest.mark.parametrize('schedule, epochs', [('adamw_warmup-cosine_30e.py', 30),
                                              ('adamw_warmup-cosine_60e.py', 60)])
def test_lr_follows_warmup_times_cosine_every_iteration(schedule, epochs):
    cfg = Config.fromfile(f'configs/_base_/schedules/{schedule}')
    assert cfg.train_cfg.max_epochs == epochs
    epoch_len = 40  # warm-up W = 100 iterations
    head, backbone = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    base_lr = cfg.optim_wrapper.optimizer.lr
    optimizer = torch.optim.AdamW([dict(params=[head], lr=base_lr),
                                   dict(params=[backbone], lr=base_lr * 0.1)], lr=base_lr)
    wrapper = OptimWrapper(optimizer)
    schedulers = [PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=wrapper,
                                                              epoch_length=epoch_len))
                  for s in cfg.param_scheduler]

    warmup = int(2.5 * epoch_len)
    for it in range(epochs * epoch_len):
        expected = mmengine_lr(base_lr, it, epoch_len, epochs, 2.5)
        head_lr, backbone_lr = (g['lr'] for g in optimizer.param_groups)
        assert head_lr == pytest.approx(expected, rel=1e-6, abs=1e-12), it
        assert backbone_lr == pytest.approx(0.1 * expected, rel=1e-6, abs=1e-13), it
        # within 1 / W of the official formula (1e-4 at K400's ~9400 warm-up iterations)
        official = official_lr(base_lr, it, epoch_len, epochs, 2.5)
        assert abs(head_lr - official) <= official / warmup, it
        with warnings.catch_warnings():  # no optimizer.step() here, on purpose
            warnings.simplefilter('ignore', UserWarning)
            for scheduler in schedulers:
                scheduler.step()
    # warm-up starts at 0.1 x lr and the run ends near 0
    assert official_lr(base_lr, 0, epoch_len, epochs, 2.5) == pytest.approx(0.1 * base_lr)
    assert optimizer.param_groups[0]['lr'] < 1e-3 * base_lr
