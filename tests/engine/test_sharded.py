"""Sharded training (FSDP through mmengine's FlexibleRunner) on CPU ranks over gloo.

The 2-process run trains the micro Swin with ``configs/_base_/strategies/fsdp.py`` and
the recipe optimizer (parameter groups by name), and again with the switch
``--cfg-options strategy=None`` (DDP), from the same random-weight checkpoint; the two
must end with the same weights, and
the FSDP checkpoint must have the DDP checkpoint's keys (it is an ordinary full
checkpoint). The wrap policy is checked on a real Swin-L layout and on a real FSDP wrap.
"""
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
    CheckpointWrapper, apply_activation_checkpointing)
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from helpers import REPO_ROOT, free_port
from videoswin.checkpoint.io import safe_load
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.runner import build_runner
from videoswin.engine.sharding import is_swin_block, swin_block_wrap_policy
from videoswin.models.backbones.swin3d import SwinTransformer3D, SwinTransformerBlock3D
from videoswin.registry import MODELS
from videoswin.testing import random_state_dict
from videoswin.utils import register_all_modules

register_all_modules()

ROOT = REPO_ROOT
FSDP_DIR = ROOT / 'configs/recognition/swin/fsdp'
FSDP_RECIPES = sorted(FSDP_DIR.glob('*.py'))

# Records, on every rank, how the model was wrapped and how much of it the rank holds.
SHARD_REPORT_HOOK = '''
import torch
from mmengine.hooks import Hook
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

from videoswin.registry import HOOKS


@HOOKS.register_module()
class ShardReportHook(Hook):
    def before_train(self, runner):
        model = runner.model
        units = [m for m in model.modules() if isinstance(m, FSDP)]
        torch.save(dict(
            runner=type(runner).__name__, wrapper=type(model).__name__,
            units=[type(u.module).__name__ for u in units],
            checkpointed=sum(isinstance(m, CheckpointWrapper) for m in model.modules()),
            local_numel=sum(u._flat_param.numel() for u in units if u._flat_param is not None),
            full_numel=sum(u._flat_param._unpadded_unsharded_size.numel()
                           for u in units if u._flat_param is not None),
            lrs=sorted({g['lr'] for g in runner.optim_wrapper.param_groups})),
            f'{runner.work_dir}/shards{runner.rank}.pth')
'''


def _micro_swin(**kwargs) -> SwinTransformer3D:
    return SwinTransformer3D(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                             window_size=(2, 4, 4), drop_path_rate=0.0, **kwargs)


def test_wrap_policy_picks_exactly_the_24_blocks_of_swin_large():
    cfg = Config.fromfile(FSDP_RECIPES[0])
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    wrapped = [name for name, m in model.named_modules()
               if swin_block_wrap_policy(m, recurse=False, nonwrapped_numel=0)]
    assert len(wrapped) == 2 + 2 + 18 + 2
    assert all(isinstance(model.get_submodule(n), SwinTransformerBlock3D) for n in wrapped)
    assert [n for n, m in model.named_modules() if is_swin_block(m)] == wrapped
    # the policy lets FSDP descend into every module to find the blocks
    assert all(swin_block_wrap_policy(m, recurse=True, nonwrapped_numel=0)
               for m in model.modules())


@pytest.fixture
def gloo_world_of_one(tmp_path):
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


def test_fsdp_wrap_gives_one_unit_per_block_and_the_same_outputs(gloo_world_of_one):
    torch.manual_seed(0)
    plain = _micro_swin()
    plain.load_state_dict(random_state_dict(plain))
    sharded = _micro_swin()
    sharded.load_state_dict(plain.state_dict())
    sharded = FSDP(sharded, auto_wrap_policy=swin_block_wrap_policy,
                   device_id=torch.device('cpu'), use_orig_params=True)
    apply_activation_checkpointing(sharded, check_fn=is_swin_block)
    units = [m for m in sharded.modules() if isinstance(m, FSDP)]
    assert [type(u.module).__name__ for u in units[1:]] == ['SwinTransformerBlock3D'] * 8
    assert type(units[0].module) is SwinTransformer3D
    assert sum(isinstance(m, CheckpointWrapper) for m in sharded.modules()) == 8

    x = torch.randn(2, 3, 4, 32, 32)
    expected = plain(x)
    got = sharded(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    got.square().mean().backward()
    expected.square().mean().backward()
    with FSDP.summon_full_params(sharded, with_grads=True):
        grads = {n.replace('_fsdp_wrapped_module.', '').replace('_checkpoint_wrapped_module.', ''):
                 p.grad for n, p in sharded.named_parameters()}
    for name, param in plain.named_parameters():
        torch.testing.assert_close(grads[name], param.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_fsdp_strategy_in_the_videoswin_scope_is_the_torch2_fixed_one():
    from mmengine.registry import STRATEGIES

    from videoswin.engine.sharding import FSDPStrategy

    with STRATEGIES.switch_scope_and_registry(None) as registry:  # as FlexibleRunner builds
        assert registry.get('FSDPStrategy') is FSDPStrategy


@pytest.mark.parametrize('path', FSDP_RECIPES, ids=lambda p: p.stem)
def test_fsdp_recipes_are_their_ddp_recipes_plus_the_strategy(path):
    cfg = Config.fromfile(path)
    parent = Config.fromfile(path.parent.parent / (path.stem.replace('-fsdp-amp-', '-amp-')
                                                   + '.py'))
    assert cfg.strategy.type == 'FSDPStrategy'
    assert cfg.strategy.model_wrapper.auto_wrap_policy.type == 'videoswin.swin_block_wrap_policy'
    assert cfg.strategy.activation_checkpointing.check_fn == 'videoswin.is_swin_block'
    assert cfg.strategy.state_dict_cfg == 'full'
    for key in ('model', 'train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'test_dataloader', 'auto_scale_lr'):
        assert cfg[key] == parent[key], key


def test_build_runner_refuses_what_fsdp_cannot_do(tmp_path):
    cfg = Config.fromfile(FSDP_RECIPES[0])
    cfg.launcher = 'none'
    with pytest.raises(ValueError, match=r'kinetics400-rgb\.py: strategy FSDPStrategy .*'
                       r'tools/dist_train\.sh'):
        build_runner(cfg)
    cfg.launcher = 'pytorch'
    cfg.optim_wrapper.clip_grad = dict(max_norm=1.0)
    with pytest.raises(ValueError, match=r'clip_grad \(norm\) under FSDPStrategy'):
        build_runner(cfg)


def _write_config(tmp_path: Path) -> Path:
    """The micro Swin with the FSDP strategy base and the recipes' optimizer."""
    config = tmp_path / 'micro_fsdp.py'
    config.write_text(textwrap.dedent(f'''\
        _base_ = ['{ROOT}/configs/demo/swin-micro_synthetic.py',
                  '{ROOT}/configs/_base_/strategies/fsdp.py']
        # 8 clips / 2 processes / 2 per batch = 2 synchronised steps per process
        train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
        train_cfg = dict(max_epochs=1, val_interval=10)
        default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
        # the recipes' optimizer: parameter groups chosen by name (lr x0.1 backbone)
        optim_wrapper = dict(clip_grad=None, constructor='VideoSwinOptimWrapperConstructor',
                             paramwise_cfg=dict(custom_keys=dict(
                                 backbone=dict(lr_mult=0.1), norm=dict(decay_mult=0.),
                                 relative_position_bias_table=dict(decay_mult=0.))))
        load_from = '{tmp_path}/init.pth'
        custom_imports = dict(imports=['shard_report_hook'], allow_failed_imports=False)
        custom_hooks = [dict(type='ShardReportHook')]
        '''))
    return config


def _train(tmp_path: Path, config: Path, work_dir: str, *extra: str) -> Path:
    env = dict(os.environ, PORT=str(free_port()),
               PYTHONPATH=f'{tmp_path}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    result = subprocess.run(
        ['bash', str(ROOT / 'tools/dist_train.sh'), str(config), '2', '--work-dir', work_dir,
         *extra], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp_path / work_dir


@pytest.mark.slow
def test_two_cpu_ranks_train_sharded_to_the_weights_of_ddp(tmp_path):
    make_synthetic_dataset(tmp_path / 'data/synthetic', num_train=4, num_val=1, ssv2_style=False)
    model = MODELS.build(Config.fromfile(ROOT / 'configs/demo/swin-micro_synthetic.py').model)
    torch.save(dict(state_dict=random_state_dict(model)), tmp_path / 'init.pth')
    (tmp_path / 'shard_report_hook.py').write_text(SHARD_REPORT_HOOK)
    config = _write_config(tmp_path)

    fsdp = _train(tmp_path, config, 'fsdp')
    # the switch back to data parallelism: the same config without its strategy
    ddp = _train(tmp_path, config, 'ddp', '--cfg-options', 'strategy=None')

    ddp_report = torch.load(ddp / 'shards0.pth', weights_only=True)
    assert (ddp_report['runner'], ddp_report['wrapper']) == ('Runner',
                                                             'MMDistributedDataParallel')
    reports = [torch.load(fsdp / f'shards{r}.pth', weights_only=True) for r in (0, 1)]
    for report in reports:
        assert (report['runner'], report['wrapper']) == ('FlexibleRunner',
                                                         'MMFullyShardedDataParallel')
        assert report['units'] == ['VideoRecognizer'] + ['SwinTransformerBlock3D'] * 4
        assert report['checkpointed'] == 4
        # demo lr 5e-4 at the first warm-up factor 0.1; the backbone group at x0.1
        assert report['lrs'] == pytest.approx([5e-4 * 0.1 * 0.1, 5e-4 * 0.1])
        assert report['lrs'] == pytest.approx(ddp_report['lrs'])
    # each rank holds half of every unit (plus at most one element of padding per unit)
    full = reports[0]['full_numel']
    assert reports[1]['full_numel'] == full
    assert sum(r['local_numel'] for r in reports) - full <= len(reports[0]['units'])

    # the FSDP checkpoint is a plain full checkpoint with DDP's keys and DDP's weights
    # (both load through the allow-listed loader, optimizer state included)
    ddp_state = safe_load(str(ddp / 'epoch_1.pth'))['state_dict']
    fsdp_ckpt = safe_load(str(fsdp / 'epoch_1.pth'))
    fsdp_state = fsdp_ckpt['state_dict']
    assert fsdp_ckpt['optimizer']['state']
    assert list(fsdp_state) == list(ddp_state)
    init = random_state_dict(model)
    for key, value in ddp_state.items():
        torch.testing.assert_close(fsdp_state[key], value, rtol=1e-4, atol=1e-6, msg=key)
    assert not torch.equal(ddp_state['cls_head.fc_cls.weight'], init['cls_head.fc_cls.weight'])

    # resuming loads the sharded optimizer state: AdamW counts 2 + 2 steps, not 2
    _train(tmp_path, config, 'fsdp', '--resume', '--cfg-options', 'train_cfg.max_epochs=2',
           'load_from=None')
    steps = {float(s['step']) for s in safe_load(str(fsdp / 'epoch_2.pth'))['optimizer']['state']
             .values()}
    assert steps == {4.0}


def test_gpu_benchmark_defaults_to_the_swin_large_fsdp_recipes():
    bench = _import_benchmark()
    cfg = bench.load_config(bench.parse_args([]))
    assert Path(cfg.filename) == FSDP_DIR / bench.RECIPES[224]
    assert cfg.model.backbone.pretrained is None and cfg.strategy.type == 'FSDPStrategy'
    cfg = bench.load_config(bench.parse_args(['--res', '384']))
    assert tuple(cfg.model.backbone.window_size) == (8, 12, 12)


@pytest.mark.slow
def test_gpu_benchmark_runs_a_sharded_step_on_two_cpu_ranks(tmp_path):
    config = tmp_path / 'micro_fsdp.py'
    config.write_text(f"_base_ = ['{ROOT}/configs/demo/swin-micro_synthetic.py', "
                      f"'{ROOT}/configs/_base_/strategies/fsdp.py']\n"
                      "optim_wrapper = dict(clip_grad=None)\n")
    result = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
         '--master_port', str(free_port()), str(ROOT / 'benchmarks/gpu_sharded_step.py'),
         '--config', str(config), '--batch', '2', '--frames', '8', '--size', '56',
         '--iters', '1', '--warmup', '1'],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    row = [line for line in result.stdout.splitlines() if line.startswith('| micro_fsdp |')]
    assert len(row) == 1, result.stdout
    cells = [c.strip() for c in row[0].strip('|').split('|')]
    assert cells[1:5] == ['2 (CPU)', 'FULL_SHARD', '2', '8x56x56']
    assert float(cells[5]) > 0 and float(cells[6]) == pytest.approx(4 / float(cells[5]), rel=0.02)


def _import_benchmark():
    spec = importlib.util.spec_from_file_location('gpu_sharded_step',
                                                  ROOT / 'benchmarks/gpu_sharded_step.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
