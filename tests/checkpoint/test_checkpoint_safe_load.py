"""safe_load refuses pickles that would run code, and still reads real mmengine checkpoints."""
import builtins
import os
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from videoswin.checkpoint import UnsafeCheckpointError, install_safe_loader, safe_load
from videoswin.checkpoint.io import TRUST_ENV_VAR
from videoswin.checkpoint.remote import cache_path

from helpers.tiny_runner import tiny_runner


class _WritesMarker:
    """Unpickling this object would create a file: the classic code-execution pickle."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f'open({self.marker!r}, "w").close()',)


class _LooksUpAttribute:
    """Pickles as getattr(owner, name): how HistoryBuffer methods are stored, and abusable."""

    def __init__(self, owner, name: str):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


@pytest.fixture(scope='module')
def mmengine_checkpoint(tmp_path_factory) -> str:
    """epoch_1.pth written by a real one-epoch mmengine training run."""
    work_dir = str(tmp_path_factory.mktemp('runner'))
    tiny_runner(work_dir, max_epochs=1).train()
    return osp.join(work_dir, 'epoch_1.pth')


def test_code_running_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _WritesMarker(str(marker))}, path)

    with pytest.raises(UnsafeCheckpointError) as info:
        safe_load(path)

    message = str(info.value)
    assert str(path) in message
    assert 'builtins.exec' in message
    assert 'trusted=True' in message and TRUST_ENV_VAR in message
    assert '\n' not in message
    assert not marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    allowed, escaping = tmp_path / 'allowed.pth', tmp_path / 'escaping.pth'
    torch.save({'m': _LooksUpAttribute(HistoryBuffer, 'mean')}, allowed)
    torch.save({'m': _LooksUpAttribute(HistoryBuffer, '__init__')}, escaping)

    assert safe_load(allowed)['m'] is HistoryBuffer.mean
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\(HistoryBuffer, '__init__'\)"):
        safe_load(escaping)


def test_trusted_opt_in_loads_unrestricted(tmp_path, monkeypatch):
    marker = tmp_path / 'ran'
    path = tmp_path / 'trusted.pth'
    torch.save({'payload': _WritesMarker(str(marker))}, path)

    safe_load(path, trusted=True)
    assert marker.exists()

    marker.unlink()
    monkeypatch.setenv(TRUST_ENV_VAR, '1')
    safe_load(path)
    assert marker.exists()


def test_mmengine_training_checkpoint_loads_with_its_history(mmengine_checkpoint):
    reference = torch.load(mmengine_checkpoint, weights_only=False)
    loaded = safe_load(mmengine_checkpoint)

    assert set(loaded) == {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'}
    for name, buffer in reference['message_hub']['log_scalars'].items():
        restored = loaded['message_hub']['log_scalars'][name]
        assert isinstance(restored, HistoryBuffer)
        assert (restored.data[0] == buffer.data[0]).all()
    assert loaded['message_hub']['runtime_info'] == reference['message_hub']['runtime_info']
    for key, value in reference['state_dict'].items():
        assert torch.equal(loaded['state_dict'][key], value)


def test_install_safe_loader_is_idempotent_and_routes_local_paths(mmengine_checkpoint):
    install_safe_loader()
    schemes = dict(CheckpointLoader._schemes)
    install_safe_loader()

    assert dict(CheckpointLoader._schemes) == schemes
    loader = CheckpointLoader._get_checkpoint_loader(mmengine_checkpoint)
    assert loader.__module__ == 'videoswin.checkpoint.io'
    assert set(_load_checkpoint(mmengine_checkpoint)) >= {'state_dict', 'message_hub'}


def test_mmengine_resume_goes_through_the_safe_loader(tmp_path, mmengine_checkpoint):
    install_safe_loader()
    continuous_dir, resumed_dir = str(tmp_path / 'continuous'), str(tmp_path / 'resumed')
    continuous = tiny_runner(continuous_dir, max_epochs=2)
    continuous.train()

    resumed = tiny_runner(resumed_dir, max_epochs=2, resume=True, load_from=mmengine_checkpoint)
    resumed.train()

    assert resumed.epoch == continuous.epoch == 2 and resumed.iter == continuous.iter == 8
    for key, value in continuous.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=1e-6)
    assert not os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')


def test_urls_are_downloaded_then_safely_loaded(http_server, tmp_path):
    served, url = http_server
    torch.save({'state_dict': {'w': torch.arange(3.)}}, served / 'good.pth')
    torch.save({'payload': _WritesMarker(str(tmp_path / 'pwned'))}, served / 'evil.pth')
    install_safe_loader()
    previous_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    try:
        loaded = _load_checkpoint(f'{url}/good.pth')
        with pytest.raises(UnsafeCheckpointError, match='builtins.exec'):
            _load_checkpoint(f'{url}/evil.pth')
    finally:
        torch.hub.set_dir(previous_hub)

    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.))
    # one folder per URL (issue 13: same-named URLs must not share a cache entry)
    cached = Path(cache_path(f'{url}/good.pth', str(tmp_path / 'hub' / 'checkpoints')))
    assert cached.is_file() and cached.name == 'good.pth'
    assert not (tmp_path / 'pwned').exists()
