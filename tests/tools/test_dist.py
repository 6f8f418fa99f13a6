"""tools/dist_train.sh on CPU: two processes train together and end with the same weights."""
import os
import subprocess
import textwrap

import pytest
import torch

from videoswin.datasets.synthetic import make_synthetic_dataset

from helpers import REPO_ROOT, free_port

# Saves, on every rank, the sampler's indices and the weights before and after training.
RANK_DUMP_HOOK = '''
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from videoswin.registry import HOOKS


def _weights(runner):
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@HOOKS.register_module()
class RankDumpHook(Hook):
    def before_train(self, runner):
        self.initial = _weights(runner)
        # dataset indices, whether the sampler yields ints or SampleKey(epoch, index)
        self.indices = [int(getattr(key, 'index', key)) for key in runner.train_dataloader.sampler]

    def after_train(self, runner):
        torch.save(dict(initial=self.initial, final=_weights(runner), indices=self.indices,
                        world_size=runner.world_size),
                   f'{runner.work_dir}/rank{runner.rank}.pth')
'''


@pytest.mark.slow
def test_two_cpu_processes_train_to_identical_weights(tmp_path):
    make_synthetic_dataset(tmp_path / 'data/synthetic', num_train=4, num_val=1, ssv2_style=False)
    (tmp_path / 'rank_dump_hook.py').write_text(RANK_DUMP_HOOK)
    config = tmp_path / 'dist_cfg.py'
    config.write_text(textwrap.dedent(f'''\
        _base_ = ['{REPO_ROOT}/configs/demo/swin-micro_synthetic.py']
        custom_imports = dict(imports=['rank_dump_hook'], allow_failed_imports=False)
        custom_hooks = [dict(type='RankDumpHook')]
        # 8 clips / 2 processes / 2 per batch = 2 synchronised steps per process
        train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
        train_cfg = dict(max_epochs=1, val_interval=10)
        default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
        '''))
    env = dict(os.environ, PORT=str(free_port()),
               PYTHONPATH=f'{tmp_path}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    result = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools/dist_train.sh'), str(config), '2', '--work-dir', 'work'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    ranks = [torch.load(tmp_path / f'work/rank{r}.pth', weights_only=True) for r in (0, 1)]
    assert [r['world_size'] for r in ranks] == [2, 2]
    # each rank saw its own half of the data ...
    assert not set(ranks[0]['indices']) & set(ranks[1]['indices'])
    assert sorted(ranks[0]['indices'] + ranks[1]['indices']) == list(range(8))
    # ... and yet every parameter and buffer is bit-identical after training
    for key, value in ranks[0]['final'].items():
        assert torch.equal(value, ranks[1]['final'][key]), key
    changed = [k for k, v in ranks[0]['final'].items() if not torch.equal(v, ranks[0]['initial'][k])]
    assert 'cls_head.fc_cls.weight' in changed and 'backbone.patch_embed.proj.weight' in changed
    assert (tmp_path / 'work/epoch_1.pth').is_file()
