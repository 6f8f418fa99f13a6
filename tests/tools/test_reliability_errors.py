"""Bad configs and data end ``tools/train.py`` / ``tools/test.py`` with one clear line
(``error: ...``, exit status 1) instead of a traceback; ``--debug`` shows the traceback.

Most cases run the tool's ``__main__`` in this process (the same code, without paying
the import of the stack again); one runs it as a real subprocess.
"""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.registry import MODELS
from videoswin.utils import register_all_modules
from videoswin.utils.config_check import accepted_arguments, check_config
from videoswin.utils.errors import ConfigError, one_line

from helpers import REPO_ROOT

TOOLS = REPO_ROOT / 'tools'
CONFIG = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
_data = dict(ann_file='{data}/train_list.txt', data_prefix=dict(video='{data}/train'))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=_data)
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False, dataset=_data)
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_epochs=1)
env_cfg = dict(num_threads=1)
"""


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('errors_data')
    make_synthetic_dataset(root, num_train=2, num_val=1, num_frames=20, ssv2_style=False)
    return root


@pytest.fixture
def config(data, tmp_path) -> Path:
    path = tmp_path / 'micro.py'
    path.write_text(CONFIG.format(repo=REPO_ROOT, data=data))
    return path


def run_tool(tool: str, *argv: str, capsys) -> tuple:
    """Run ``tools/<tool>`` as ``__main__``; return (exit status, non-empty stderr lines)."""
    # loggers of earlier in-process runs write to streams pytest has closed since
    MMLogger._instance_dict.clear()
    saved = sys.argv
    sys.argv = [tool, *argv]
    try:
        runpy.run_path(str(TOOLS / tool), run_name='__main__')
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    finally:
        sys.argv = saved
    return status, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def the_error_line(status: int, lines: list) -> str:
    errors = [line for line in lines if line.startswith('error: ')]
    assert status == 1 and len(errors) == 1, lines
    assert not any(line.startswith('Traceback') for line in lines), lines
    return errors[0]


def test_unknown_type_names_key_and_closest_name(config, tmp_path, capsys):
    line = the_error_line(*run_tool(
        'train.py', str(config), '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', 'model.cls_head.type=VideoClsHaed', capsys=capsys))
    assert ("model.cls_head.type: 'VideoClsHaed' is not a registered model "
            "(did you mean 'VideoClsHead'?)") in line


def test_misspelt_argument_names_key_and_closest_argument(config, tmp_path, capsys):
    line = the_error_line(*run_tool(
        'train.py', str(config), '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', 'model.backbone.embed_dims=24', capsys=capsys))
    assert ("model.backbone: SwinTransformer3D has no argument 'embed_dims' "
            "(did you mean 'embed_dim'?)") in line


def test_missing_annotation_file_names_key_and_path(config, tmp_path, capsys):
    missing = tmp_path / 'nowhere' / 'train_list.txt'
    line = the_error_line(*run_tool(
        'train.py', str(config), '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', f'train_dataloader.dataset.ann_file={missing}', capsys=capsys))
    assert f'train_dataloader.dataset.ann_file: no such file: {missing}' in line


def test_missing_data_root_names_key_and_folder(config, tmp_path, capsys):
    missing = tmp_path / 'videos_not_linked'
    line = the_error_line(*run_tool(
        'test.py', str(config), str(tmp_path / 'unused.pth'), '--work-dir',
        str(tmp_path / 'w'), '--cfg-options',
        f'test_dataloader.dataset.data_prefix.video={missing}', capsys=capsys))
    assert f'test_dataloader.dataset.data_prefix.video: no such folder: {missing}' in line


def test_malformed_annotation_line_names_file_and_line(config, data, tmp_path, capsys):
    ann_file = tmp_path / 'broken_list.txt'
    lines = (data / 'train_list.txt').read_text().splitlines()
    lines[2] = lines[2].split()[0] + ' not_a_label'
    ann_file.write_text('\n'.join(lines) + '\n')
    line = the_error_line(*run_tool(
        'train.py', str(config), '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        'train_dataloader.dataset.type=KineticsDataset',
        f'train_dataloader.dataset.ann_file={ann_file}', capsys=capsys))
    assert f'{ann_file}:3' in line


def test_checkpoint_with_wrong_shapes_names_the_keys(config, tmp_path, capsys):
    register_all_modules()
    cfg = Config.fromfile(str(config))
    cfg.model.cls_head.num_classes = 5
    checkpoint = tmp_path / 'five_classes.pth'
    torch.save({'meta': {}, 'state_dict': MODELS.build(cfg.model).state_dict()}, checkpoint)
    line = the_error_line(*run_tool(
        'test.py', str(config), str(checkpoint), '--work-dir', str(tmp_path / 'w'),
        capsys=capsys))
    assert 'cls_head.fc_cls.weight' in line and 'cls_head.fc_cls.bias' in line


def test_debug_switch_lets_the_traceback_through(config, tmp_path, capsys):
    with pytest.raises(ConfigError, match='VideoClsHaed'):
        run_tool('train.py', str(config), '--work-dir', str(tmp_path / 'w'), '--debug',
                 '--cfg-options', 'model.cls_head.type=VideoClsHaed', capsys=capsys)


@pytest.mark.slow
def test_label_outside_num_classes_ends_a_real_run_with_one_line(config, data, tmp_path):
    ann_file = tmp_path / 'list.txt'
    lines = (data / 'train_list.txt').read_text().splitlines()
    lines[1] = lines[1].split()[0] + ' 7'
    ann_file.write_text('\n'.join(lines) + '\n')
    done = subprocess.run(
        [sys.executable, str(TOOLS / 'train.py'), str(config), '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', f'train_dataloader.dataset.ann_file={ann_file}'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    line = the_error_line(done.returncode, done.stderr.splitlines())
    video = data / 'train' / lines[1].split()[0]
    assert (f'train_dataloader.dataset: sample 1 ({video}) has label 7, outside the 2 '
            'classes of model.cls_head') in line
    # the traceback is not lost: it went to the run's log file, which the line names
    log_file = Path(line.split('traceback in ')[1].split(', or rerun')[0])
    assert 'Traceback' in log_file.read_text() and log_file.is_relative_to(tmp_path / 'w')


def test_one_line_shortens_builder_chains():
    nested = TypeError('class `VideoRecognizer` in /a/b/video_recognizer.py: class '
                       '`SwinTransformer3D` in /a/b/swin3d.py: __init__() got an '
                       "unexpected keyword argument 'x'\nsecond line")
    assert one_line(nested) == ("TypeError: VideoRecognizer > SwinTransformer3D: __init__() "
                                "got an unexpected keyword argument 'x'; second line")
    assert one_line(KeyError('Foo is not in the registry')) == \
        'KeyError: Foo is not in the registry'


@pytest.mark.slow
def test_every_shipped_config_passes_the_check():
    # the check must never refuse a valid config: every recipe in configs/ passes it
    register_all_modules()
    recipes = [p for p in sorted((REPO_ROOT / 'configs').rglob('*.py')) if '_base_' not in p.parts]
    assert len(recipes) > 10
    for path in recipes:
        cfg = Config.fromfile(str(path))
        for mode in ('train', 'test'):
            check_config(cfg, mode, check_paths=False)


def test_arguments_are_followed_through_kwargs_to_the_base_classes():
    from mmaction.datasets import VideoDataset
    accepted = accepted_arguments(VideoDataset)
    # VideoDataset's own, then BaseActionDataset's and mmengine BaseDataset's via **kwargs
    assert {'ann_file', 'delimiter', 'multi_class', 'data_root', 'serialize_data',
            'test_mode', 'lazy_init'} <= accepted
    assert accepted_arguments(type('KeepsKwargs', (), {
        '__init__': lambda self, a=1, **kwargs: setattr(self, 'extra', kwargs)})) is None
