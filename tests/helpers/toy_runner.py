"""Shared pieces of the reliability tests (no tests here): a small mmengine Runner
whose data augmentation and model both draw random numbers, so that any slip in
data order or random state during a resume changes the final weights.
"""
import itertools
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import videoswin.testing.fault_injection  # noqa: F401  (registers FaultInjectionHook)
from videoswin.checkpoint import install_safe_loader

_names = itertools.count()


class NoisyDataset(Dataset):
    """Fixed features and labels, plus fresh numpy noise on every read (an augmentation)."""

    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, size: int = 24, dim: int = 8, num_classes: int = 3) -> None:
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((size, dim)).astype(np.float32)
        self.y = rng.integers(0, num_classes, size)
        self.y[-1] = num_classes - 1  # every run sees the top label

    def __len__(self) -> int:
        return len(self.x)

    def get_data_info(self, index: int) -> dict:
        return dict(label=int(self.y[index]), filename=f'clip_{index}.mp4')

    def __getitem__(self, index: int) -> dict:
        noise = np.random.standard_normal(self.x.shape[1]).astype(np.float32)
        return dict(inputs=torch.from_numpy(self.x[index] + 0.1 * noise),
                    label=int(self.y[index]))


class DropoutClassifier(BaseModel):
    """Two linear layers with dropout in between: training consumes torch randomness."""

    def __init__(self, dim: int = 8, num_classes: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, 16)
        self.drop = nn.Dropout(0.3)
        self.cls_head = nn.Linear(16, num_classes)
        self.cls_head.num_classes = num_classes

    def forward(self, inputs, label=None, mode='tensor'):
        logits = self.cls_head(self.drop(F.relu(self.fc(inputs))))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, label))
        return logits


class CrashAfter(Hook):
    """Raise after iteration ``n`` (and after that iteration's checkpoint)."""

    priority = 'LOWEST'

    def __init__(self, n: int) -> None:
        self.n = n

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.n:
            raise KeyboardInterrupt(f'simulated crash after iteration {self.n}')


class WeightsBefore(Hook):
    """Keep a copy of the weights and optimizer state as they were before each iteration."""

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self.weights: Dict[int, Dict[str, torch.Tensor]] = {}
        self.optimizer: Dict[int, dict] = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.weights[runner.iter + 1] = clone_state(runner.model.state_dict())
        self.optimizer[runner.iter + 1] = torch.optim.Optimizer.state_dict(
            runner.optim_wrapper.optimizer)


def clone_state(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def assert_same_weights(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f'weights differ in {different}'


class EvaluationCount(BaseMetric):
    """A validation 'score' that grows with every evaluation, so each one is a new best."""

    evaluations = 0

    def process(self, data_batch, data_samples) -> None:
        self.results.append(len(data_samples))

    def compute_metrics(self, results) -> dict:
        EvaluationCount.evaluations += 1
        return dict(count=EvaluationCount.evaluations)


def make_runner(work_dir: Path, *, max_epochs: int = 3, num_workers: int = 0,
                loop: str = 'ResumableEpochBasedTrainLoop', mid_epoch_interval: int = 0,
                checkpoint: Optional[dict] = None, hooks=(), resume: bool = False,
                load_from: Optional[str] = None, dataset: Optional[dict] = None,
                batch_size: int = 4, persistent_workers: bool = False,
                validate: bool = False) -> Runner:
    """A small training run: 24 samples, batch 4 (6 iterations an epoch), AdamW + cosine;
    with ``validate``, an :class:`EvaluationCount` validation after every epoch."""
    install_safe_loader()  # what every tool does: resume reads through safe_load
    checkpoint = checkpoint or dict(type='AtomicCheckpointHook', interval=1,
                                    mid_epoch_interval=mid_epoch_interval)
    return Runner(
        model=dict(type=DropoutClassifier),  # built after the runner seeds
        work_dir=str(work_dir),
        experiment_name=f'reliability_{next(_names)}',
        train_dataloader=dict(
            dataset=dataset or dict(type=NoisyDataset),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=batch_size, num_workers=num_workers,
            persistent_workers=persistent_workers),
        train_cfg=dict(type=loop, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.05, weight_decay=0.05)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
                             convert_to_iter_based=True),
        default_hooks=dict(checkpoint=checkpoint, logger=dict(type='LoggerHook', interval=50)),
        val_dataloader=dict(dataset=dict(type=NoisyDataset), batch_size=8,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            collate_fn=dict(type='default_collate')) if validate else None,
        val_cfg=dict(type='ValLoop') if validate else None,
        val_evaluator=dict(type=EvaluationCount) if validate else None,
        custom_hooks=list(hooks),
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        default_scope='videoswin',
        log_level='WARNING',
    )
