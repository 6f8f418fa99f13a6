"""``compile=True`` compiles the recognizer's network in place, never mmengine's train step:
AMP's autocast stays outside the compiled code, checkpoints keep their keys."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from torch import nn

from helpers import REPO_ROOT
from helpers.train_runs import CONFIG, run_train, weights_of
from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.engine.compile import compile_network, compile_options
from videoswin.engine.runner import Runner, build_runner
from videoswin.engine.sharding import FSDPStrategy
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules

DEMO = REPO_ROOT / 'configs/demo/swin-micro_synthetic.py'


def demo_recognizer() -> nn.Module:
    register_all_modules()
    return MODELS.build(Config.fromfile(DEMO).model)


@pytest.mark.parametrize('value, options', [
    (None, None), (False, None), (True, {'dynamic': False}),
    ({'mode': 'max-autotune'}, {'dynamic': False, 'mode': 'max-autotune'}),
    ({'target': 'train_step', 'dynamic': True}, {'dynamic': True}),
])
def test_compile_options(value, options):
    assert compile_options(value) == options


def test_compile_options_rejects_other_types():
    with pytest.raises(TypeError, match='compile: expected a bool or a dict'):
        compile_options('yes')


def test_compile_network_compiles_backbone_and_head_in_place_behind_a_wrapper():
    model = demo_recognizer()
    keys = list(model.state_dict())
    wrapper = nn.Module()
    wrapper.module = model  # as DDP / FSDP / mmengine's wrappers hold it
    assert compile_network(wrapper, True) == ['backbone', 'cls_head']
    assert list(model.state_dict()) == keys  # no `_orig_mod.` prefixes
    assert model.backbone._compiled_call_impl is not None
    assert model.cls_head._compiled_call_impl is not None
    assert model._compiled_call_impl is None  # the recognizer (data samples) stays eager
    assert compile_network(model, False) == []


def test_compile_network_names_a_model_without_network_parts():
    with pytest.raises(ValueError, match='has none of'):
        compile_network(nn.Linear(2, 2), True)


def test_runner_compiles_the_network_not_the_train_step():
    model = demo_recognizer()
    runner = SimpleNamespace(model=model, cfg=Config(dict(compile=True)))
    Runner._maybe_compile(runner, 'train_step')
    assert 'train_step' not in vars(model)  # mmengine would have replaced it
    assert model.backbone._compiled_call_impl is not None


def test_fsdp_strategy_compiles_the_network_too():
    """FlexibleRunner hands ``compile=dict(target='train_step')`` to the strategy."""
    model = demo_recognizer()
    assert FSDPStrategy.compile_model(None, model, dict(target='train_step')) is model
    assert 'train_step' not in vars(model)
    assert model.backbone._compiled_call_impl is not None


def test_a_config_with_a_strategy_hands_compile_to_flexible_runner(tmp_path):
    """mmengine 0.10.7's FlexibleRunner.from_cfg drops ``compile``."""
    register_all_modules()
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(dict(strategy=dict(type='SingleDeviceStrategy'), compile=True,
                             work_dir=str(tmp_path), experiment_name='compile-strategy'))
    runner = build_runner(cfg)
    assert type(runner).__name__ == 'FlexibleRunner'
    assert runner._compile is True


@pytest.mark.slow
def test_train_tool_with_amp_and_compile(tmp_path):
    """tools/train.py --amp with compile=True (bfloat16 autocast on CPU). mmengine 0.10.7
    compiles train_step; on a GPU (H200, torch 2.11) dynamo failed inside its autocast."""
    data = tmp_path / 'data'
    make_synthetic_dataset(data, num_train=4, num_val=1, num_frames=20, ssv2_style=False)
    base = tmp_path / 'base.py'
    base.write_text(CONFIG.format(repo=REPO_ROOT, data=data))
    config = tmp_path / 'compiled.py'
    config.write_text(f"_base_ = ['{base}']\ntrain_cfg = dict(max_epochs=1)\ncompile = True\n")
    work_dir = tmp_path / 'run'
    run_train(config, work_dir, '--amp')
    log = (tmp_path / 'run.out').read_text()
    assert 'torch.compile: backbone, cls_head' in log
    assert 'loss:' in log
    weights = weights_of(work_dir / 'epoch_1.pth')
    assert list(weights) == list(demo_recognizer().state_dict())
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
