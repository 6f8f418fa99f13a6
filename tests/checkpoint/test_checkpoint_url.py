"""Checkpoint URLs (issues 12.1, 13.4): a local HTTP server on 127.0.0.1 stands in for the
release sites; torch's hub cache is moved to tmp_path (fixtures in conftest.py)."""
import hashlib
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from helpers import REPO_ROOT, load_tool
from helpers.swin_files import MICRO, TINY, write_microsoft_swin_2d
from videoswin.checkpoint import CheckpointDownloadError, load_model_checkpoint, safe_load
from videoswin.checkpoint.remote import cache_path
from videoswin.models.backbones.swin3d_weights import load_pretrained
from videoswin.models.backbones.swin3d import SwinTransformer3D
from videoswin.registry import MODELS
from videoswin.testing import randomise_
from videoswin.utils import register_all_modules


RECIPE = (REPO_ROOT / 'configs/recognition/swin/'
          'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
DEMO = 'configs/demo/swin-micro_synthetic.py'


def micro_backbone() -> SwinTransformer3D:
    return SwinTransformer3D(**MICRO, window_size=(2, 7, 7), drop_path_rate=0.).eval()


def micro_recognizer(num_classes: int = 3):
    register_all_modules()
    return MODELS.build(dict(
        type='VideoRecognizer',
        backbone=dict(type='SwinTransformer3D', **MICRO, window_size=(2, 7, 7)),
        cls_head=dict(type='VideoClsHead', in_channels=384, num_classes=num_classes))).eval()


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    b_state = b.state_dict()
    for key, value in a.state_dict().items():
        assert torch.equal(value, b_state[key]), key


def refused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def cached_files(hub_dir: Path) -> list:
    return sorted(p.relative_to(hub_dir) for p in hub_dir.rglob('*') if p.is_file()) \
        if hub_dir.exists() else []


def test_2d_url_inflates_exactly_like_the_same_file_on_disk(http_server, hub_dir):
    served, url = http_server
    disk = write_microsoft_swin_2d(served / 'swin_micro_patch4_window7_224.pth')
    from_url, from_disk = micro_backbone(), micro_backbone()

    summary = load_pretrained(from_url, f'{url}/{disk.name}', pretrained2d=True)
    load_pretrained(from_disk, str(disk), pretrained2d=True)

    assert_same_weights(from_url, from_disk)
    assert summary.source == f'{url}/{disk.name}' and summary.inflated == 1 + 4
    cached = Path(cache_path(f'{url}/{disk.name}'))
    assert cached.parent.parent == hub_dir and cached.name == disk.name
    assert cached.read_bytes() == disk.read_bytes()
    # downloaded once: with the site gone the cached copy is used
    disk.unlink()
    again = micro_backbone()
    load_pretrained(again, f'{url}/{disk.name}', pretrained2d=True)
    assert_same_weights(again, from_disk)


def test_official_3d_recognizer_from_url_equals_the_file_on_disk(http_server, hub_dir):
    served, url = http_server
    source = randomise_(micro_recognizer(), seed=4)
    path = served / 'swin_micro_patch244_window277_kinetics400.pth'
    torch.save({'meta': {'epoch': 30}, 'state_dict': source.state_dict()}, path)
    from_url, from_disk = micro_recognizer(), micro_recognizer()

    load_model_checkpoint(from_url, f'{url}/{path.name}')
    load_model_checkpoint(from_disk, str(path))

    assert_same_weights(from_url, from_disk)
    assert_same_weights(from_url, source)


def test_a_name_with_the_right_hash_prefix_is_accepted(http_server, hub_dir):
    served, url = http_server
    staged = write_microsoft_swin_2d(served / 'staged.pth')
    prefix = hashlib.sha256(staged.read_bytes()).hexdigest()[:8]
    staged.rename(served / f'swin_micro-{prefix}.pth')
    assert 'model' in safe_load(f'{url}/swin_micro-{prefix}.pth')


@pytest.mark.parametrize('case', ['404', 'refused', 'truncated', 'wrong-hash'])
def test_a_failed_download_names_the_url_and_leaves_nothing_in_the_cache(
        case, http_server, hub_dir):
    served, url = http_server
    write_microsoft_swin_2d(served / 'swin.pth')
    (served / 'swin-deadbeef.pth').write_bytes((served / 'swin.pth').read_bytes())
    target, reason = {
        '404': (f'{url}/missing.pth', 'HTTP 404'),
        'refused': (f'http://127.0.0.1:{refused_port()}/swin.pth', 'refused'),
        'truncated': (f'{url}/truncated/swin.pth', r'truncated, received \d+ of \d+ bytes'),
        'wrong-hash': (f'{url}/swin-deadbeef.pth', 'the file name promises deadbeef'),
    }[case]

    with pytest.raises(CheckpointDownloadError) as error:
        load_pretrained(micro_backbone(), target, pretrained2d=True)

    message = str(error.value)
    assert '\n' not in message and f'could not download {target}: ' in message
    assert re.search(reason, message), message
    assert cached_files(hub_dir) == []  # no partial or unverified file kept


def test_two_urls_ending_in_the_same_name_never_share_a_cache_entry(http_server, hub_dir):
    served, url = http_server
    first = write_microsoft_swin_2d(served / 'a' / 'swin_tiny_patch4_window7_224.pth', seed=1)
    second = write_microsoft_swin_2d(served / 'b' / 'swin_tiny_patch4_window7_224.pth', seed=2)

    loaded = [safe_load(f'{url}/{folder}/swin_tiny_patch4_window7_224.pth')['model']
              for folder in ('a', 'b')]

    for state, disk in zip(loaded, (first, second)):
        expected = torch.load(disk, weights_only=True)['model']
        assert all(torch.equal(state[k], expected[k]) for k in expected)
    assert not torch.equal(loaded[0]['norm.weight'], loaded[1]['norm.weight'])
    assert len(cached_files(hub_dir)) == 2


def test_converters_and_publish_model_take_a_url(http_server, hub_dir, tmp_path):
    served, url = http_server
    source = randomise_(micro_recognizer(), seed=5)
    torch.save({'meta': {'epoch': 1, 'iter': 4}, 'state_dict': source.state_dict(),
                'optimizer': {'state': {}, 'param_groups': []}}, served / 'epoch_1.pth')

    load_tool('convert/mmaction2_to_videoswin.py').main(
        [f'{url}/epoch_1.pth', str(tmp_path / 'converted.pth')])
    published = load_tool('publish_model.py').publish(f'{url}/epoch_1.pth',
                                                        str(tmp_path / 'pub'))

    for path in (tmp_path / 'converted.pth', published):
        loaded = micro_recognizer()
        load_model_checkpoint(loaded, str(path))
        assert_same_weights(loaded, source)


def _build_recipe_backbone(pretrained: str) -> SwinTransformer3D:
    register_all_modules()
    cfg = Config.fromfile(str(RECIPE))
    cfg.model.backbone.pretrained = pretrained
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.backbone


def test_the_shipped_recipe_offline_fails_with_one_line_naming_its_url(tmp_path):
    """The recipe as shipped, its real URL, no network: every request goes to a proxy
    port nothing listens on, so the test never reaches the internet either way."""
    url = Config.fromfile(str(RECIPE)).model.backbone.pretrained
    assert url.startswith('https://github.com/')
    dead = f'http://127.0.0.1:{refused_port()}'
    script = ('from mmengine.config import Config\n'
              'from videoswin.registry import MODELS\n'
              'from videoswin.utils import register_all_modules\n'
              'from videoswin.utils.errors import run_cli\n'
              'register_all_modules()\n'
              f'cfg = Config.fromfile({str(RECIPE)!r})\n'
              'run_cli(lambda: MODELS.build(cfg.model).init_weights())\n')
    env = dict(os.environ, TORCH_HOME=str(tmp_path / 'torch_home'), https_proxy=dead,
               http_proxy=dead, HTTPS_PROXY=dead, HTTP_PROXY=dead, no_proxy='', NO_PROXY='')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            env=env, timeout=300, cwd=tmp_path)

    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert errors[0].startswith(f'error: CheckpointDownloadError: could not download {url}: ')
    assert not any((tmp_path / 'torch_home').rglob('*.pth'))


@pytest.mark.slow
def test_the_shipped_recipe_initialises_from_its_url_served_locally(http_server, hub_dir):
    served, url = http_server
    disk = write_microsoft_swin_2d(served / 'swin_tiny_patch4_window7_224.pth', arch=TINY)

    from_url = _build_recipe_backbone(f'{url}/{disk.name}')
    from_disk = _build_recipe_backbone(str(disk))

    assert sum(p.numel() for p in from_url.parameters()) > 27_000_000  # Swin-T, real size
    assert_same_weights(from_url, from_disk)
    assert not torch.equal(from_url.norm.weight, torch.ones_like(from_url.norm.weight))


@pytest.mark.slow
def test_tools_test_scores_a_url_as_the_same_file_on_disk(http_server, hub_dir, tmp_path):
    from videoswin.datasets.synthetic import make_synthetic_dataset
    served, url = http_server
    make_synthetic_dataset(tmp_path / 'data/synthetic', num_train=2, num_val=2, ssv2_style=False)
    register_all_modules()
    model = randomise_(MODELS.build(Config.fromfile(str(REPO_ROOT / DEMO)).model), seed=6)
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, served / 'demo.pth')
    printed, scores = [], []
    for index, checkpoint in enumerate((f'{url}/demo.pth', str(served / 'demo.pth'))):
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / 'tools/test.py'), str(REPO_ROOT / DEMO), checkpoint,
             '--work-dir', 'work', '--dump', f'work/preds{index}.pkl',
             '--cfg-options', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False'],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert result.returncode == 0, result.stderr[-2000:]
        printed.append(re.findall(r'^(?:top-1|top-5|mean class) accuracy: .*$', result.stdout,
                                  flags=re.M))
        with open(tmp_path / f'work/preds{index}.pkl', 'rb') as dump:
            scores.append([p['pred_scores']['item'] for p in pickle.load(dump)])
    assert len(printed[0]) == 3 and printed[0] == printed[1]
    videos = len((tmp_path / 'data/synthetic/val_list.txt').read_text().splitlines())
    assert len(scores[0]) == videos and all(torch.equal(torch.as_tensor(a), torch.as_tensor(b))
                                       for a, b in zip(*scores))
    assert len(cached_files(hub_dir)) == 1


@pytest.mark.slow
def test_train_resumes_from_a_url(http_server, hub_dir, tmp_path):
    from videoswin.datasets.synthetic import make_synthetic_dataset
    served, url = http_server
    make_synthetic_dataset(tmp_path / 'data/synthetic', num_train=2, num_val=1, ssv2_style=False)
    short = ['train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False']

    def train(work_dir: Path, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / 'tools/train.py'), str(REPO_ROOT / DEMO), '--work-dir',
             str(work_dir), *args], cwd=tmp_path, capture_output=True, text=True,
            timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    train(served / 'run', '--cfg-options', 'train_cfg.max_epochs=1', *short)
    out = train(tmp_path / 'resumed', '--resume', f'{url}/run/epoch_1.pth',
                '--cfg-options', 'train_cfg.max_epochs=2', *short)

    assert 'resumed epoch: 1, iter: 1' in out
    assert re.search(rf'{re.escape(url)}/run/epoch_1\.pth \(3D video recognizer, official '
                     r'layout\): loaded 69, inflated 0, ignored 0, missing 0', out)
    assert (tmp_path / 'resumed/epoch_2.pth').is_file() and len(cached_files(hub_dir)) == 1
