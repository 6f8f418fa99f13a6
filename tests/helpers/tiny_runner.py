"""A real mmengine Runner around a one-layer model: optimizer, schedulers, message hub."""
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x, y, mode='loss'):
        out = self.linear(x)
        return dict(loss=((out - y)**2).mean()) if mode == 'loss' else out


class _TinyDataset(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(x=torch.full((2, ), float(i)), y=torch.ones(1))


def tiny_runner(work_dir: str, max_epochs: int, **kwargs) -> Runner:
    """A real mmengine Runner with an optimizer, two param schedulers and a message hub."""
    torch.manual_seed(0)  # the model is built before the Runner seeds anything
    return Runner(
        model=_TinyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=_TinyDataset(), batch_size=2, collate_fn=dict(type='default_collate'),
            sampler=dict(type='DefaultSampler', shuffle=True)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1),
            dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=3, T_max=2)
        ],
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=100)),
        randomness=dict(seed=0),
        log_level='WARNING',
        default_scope='videoswin',
        **kwargs)
