"""Wrong options and config keys through the tools, run as a user runs them: each case
ends with exit status 1 and one ``error:`` line naming the key, the value and what is
expected (or the file), no traceback, and nothing built or written.

One row per case: (tool, arguments, exit status, regex of the error line). Arguments
name files of the ``files`` fixture as ``{config}``, ``{typo_config}``, ``{work}``,
``{bad_ckpt}``, ``{video}``, ``{labels}``, ``{list}``.
"""
import datetime
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from videoswin.datasets.synthetic import make_synthetic_dataset
from videoswin.utils import register_all_modules
from videoswin.utils.config_check import check_config, check_top_level_keys
from videoswin.utils.config_values import NUMERIC_KEYS
from videoswin.utils.errors import ConfigError

from helpers import REPO_ROOT

# every case stops before the data is read: the demo config's data root need not exist
CONFIG = """
_base_ = ['{repo}/configs/demo/swin-micro_synthetic.py']
env_cfg = dict(num_threads=1)
"""

CASES = [
    # the five cases of the issue
    ('tools/train.py', '{config} --work-dir {work} --cfg-options optim_wrapper.optimizer.lr=abc',
     1, r"optim_wrapper\.optimizer\.lr: 'abc' is not a number >= 0"),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options randomness.seed=abc',
     1, r"randomness\.seed: 'abc' is not an integer in \[0, 4294967295\] or None"),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options train_cfg.max_epochs',
     1, r"--cfg-options 'train_cfg\.max_epochs': expected KEY=VALUE"),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options train_cfg.max_epochs=-1',
     1, r'train_cfg\.max_epochs: -1 is not an integer >= 1'),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options model.cls_head.num_classes=0',
     1, r'model\.cls_head\.num_classes: 0 is not an integer >= 1'),
    # the same table, other keys
    ('tools/train.py', '{config} --work-dir {work} --cfg-options cls_head.num_classes=0',
     1, r"--cfg-options cls_head\.num_classes: the config has no key 'cls_head' "
        r'\(did you mean model\.cls_head\.num_classes\?\)'),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options '
                       'optim_wrapper.optimizer.weight_decay=None',
     1, r'optim_wrapper\.optimizer\.weight_decay: None is not a number >= 0'),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options optim_wrapper.optimizer.betas=[0.9]',
     1, r'optim_wrapper\.optimizer\.betas: \[0\.9\] is not a pair of numbers in \[0, 1\)'),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options model.backbone.drop_path_rate=1.5',
     1, r'model\.backbone\.drop_path_rate: 1\.5 is not a number in \[0, 1\)'),
    ('tools/train.py', '{config} --work-dir {work} --cfg-options train_dataloader.num_workers=-2',
     1, r'train_dataloader\.num_workers: -2 is not an integer >= 0'),
    ('tools/train.py', '{root}/micor.py --work-dir {work}',
     1, r'micor\.py: no such config file \(did you mean \S+/micro\.py\?\)'),
    ('tools/test.py', '{root}/nowhere/micro.py {bad_ckpt} --work-dir {work}',
     1, r'nowhere/micro\.py: no such config file \(folder \S+/nowhere does not exist'),
    ('tools/train.py', '{typo_config} --work-dir {work}',
     1, r"trian_dataloader: not a config key anything reads \(did you mean 'train_dataloader'\?\)"),
    ('tools/test.py', '{config} {bad_ckpt} --work-dir {work} --cfg-options '
                      'test_dataloader.batch_size=0',
     1, r'test_dataloader\.batch_size: 0 is not an integer >= 1'),
    # the other tools: same options, same one line for a refused checkpoint
    ('tools/demo.py', '{config} {bad_ckpt} {video} --label-map {labels} '
                      '--cfg-options model.cls_head.num_classes=abc',
     1, r"model\.cls_head\.num_classes: 'abc' is not an integer >= 1"),
    ('tools/demo.py', '{config} {bad_ckpt} {video} --label-map {labels}',
     1, r'bad\.pth.*allow-list'),
    ('tools/extract_features.py', '{config} {bad_ckpt} --video-list {list} --out {work}/f.feats',
     1, r'bad\.pth.*allow-list'),
    ('tools/analysis/benchmark.py', '{config} --checkpoint {bad_ckpt} --shape 1 3 8 56 56',
     1, r'bad\.pth.*allow-list'),
    ('tools/analysis/get_flops.py', '{config} --cfg-options model.backbone.embed_dim=0',
     1, r'model\.backbone\.embed_dim: 0 is not an integer >= 1'),
]


@pytest.fixture(scope='module')
def files(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp('bad_options')
    data = root / 'data'
    make_synthetic_dataset(data, num_train=1, num_val=1, num_frames=12, ssv2_style=False)
    config = root / 'micro.py'
    config.write_text(CONFIG.format(repo=REPO_ROOT))
    typo_config = root / 'typo.py'
    typo_config.write_text(f"_base_ = ['{config}']\ntrian_dataloader = dict(batch_size=4)\n")
    # a pickle that needs a class outside the allow-list: not loadable safely
    bad_ckpt = root / 'bad.pth'
    torch.save({'state_dict': {}, 'meta': {'time': datetime.datetime(2024, 1, 1)}}, bad_ckpt)
    first_video = (data / 'train_list.txt').read_text().split()[0]
    return SimpleNamespace(config=config, typo_config=typo_config, bad_ckpt=bad_ckpt,
                           video=data / 'train' / first_video, labels=data / 'classes.txt',
                           list=data / 'train_list.txt', root=root)


@pytest.mark.parametrize('tool,args,status,pattern', CASES,
                         ids=[f'{Path(c[0]).stem}:{c[1].split()[-1][:40]}' for c in CASES])
def test_bad_option_ends_with_one_line(files, tmp_path, tool, args, status, pattern):
    work = tmp_path / 'work'
    argv = [a.format(work=work, **vars(files)) for a in args.split()]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, str(REPO_ROOT / tool), *argv], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
    assert result.returncode == status, result.stderr[-3000:]
    assert len(errors) == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert re.search(pattern, errors[0]), errors[0]
    assert not work.exists() or not any(work.iterdir()), 'the tool wrote to its work dir'


# ------------------------------------------------------------- the rules, in-process
@pytest.mark.parametrize('path', sorted(
    str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / 'configs').rglob('*.py')
    if '_base_' not in p.parts))
def test_no_shipped_config_is_refused_by_the_key_and_value_checks(path):
    register_all_modules()
    cfg = Config.fromfile(str(REPO_ROOT / path))
    for mode in ('train', 'test'):
        check_config(cfg, mode, check_paths=False)


@pytest.mark.parametrize('key,accepted', [
    ('train_dataloader2', False),       # close to a known key: refused, with the rule
    ('_train_dataloader2', True),       # private by its underscore
    ('train_pipeline', True),           # users' own variables, far from any known key
    ('dataset_type', True),
    ('data_root', True),
    ('lr_config', True),
])
def test_top_level_rule(key, accepted):
    cfg = Config({key: 1})
    if accepted:
        check_top_level_keys(cfg)
    else:
        with pytest.raises(ConfigError, match=f"{key}: not a config key anything reads.*'_'"):
            check_top_level_keys(cfg)


@pytest.mark.parametrize('key,good,bad', [
    ('lr', [0.1, 1, 0], ['0.1', -1e-3, float('nan'), True, None]),
    ('seed', [0, 2**32 - 1, None], [-1, 2**32, 1.5, 'abc']),
    ('momentum', [0.9, None, 0, 1], [1.1, -0.1]),
    ('betas', [(0.9, 0.999), [0.5, 0.5]], [0.9, (0.9,), (0.9, 1.0), (0.9, 'x')]),
    ('max_epochs', [1, 300], [0, -1, 2.0, True]),
    ('num_workers', [0, 8], [-1, 1.0]),
    ('drop_path_rate', [0, 0.5], [1.0, -0.1]),
])
def test_numeric_key_table(key, good, bad):
    expected = NUMERIC_KEYS[key]
    assert all(expected.accepts(value) for value in good), (key, expected.describe())
    assert not any(expected.accepts(value) for value in bad), (key, expected.describe())
