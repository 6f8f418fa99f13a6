"""setup_env: threads, safe loading, CPU DDP, CPU AMP, and the mmaction2/numpy-2 fixes."""
import socket

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from videoswin.registry import OPTIM_WRAPPERS
from videoswin.utils.setup_env import adjust_hue, intra_op_threads, setup_env


@pytest.fixture
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize('requested,cpus,processes,workers,expected', [
    (3, 2, 1, 1, 3),  # env_cfg.num_threads wins
    (None, 2, 1, 1, 1),  # the quickstart: one process + one loader worker on 2 cores
    (None, 2, 2, 0, 1),  # two DDP processes on 2 cores
    (None, 2, 1, 0, 2),  # alone on the machine
    (None, 16, 2, 3, 2),  # 16 CPUs shared by 2 x (1 + 3)
    (None, 2, 4, 2, 1),  # oversubscribed: never below one
])
def test_thread_count_divides_the_cpus_among_processes_and_workers(
        monkeypatch, requested, cpus, processes, workers, expected):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert intra_op_threads(requested, workers, processes, cpus)[0] == expected


def test_omp_num_threads_is_respected_when_the_config_says_nothing(monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert intra_op_threads(None, 1, 1, 2) == (3, 'OMP_NUM_THREADS')


def test_setup_env_sets_the_thread_count_from_the_config(keep_threads):
    cfg = Config(dict(env_cfg=dict(num_threads=1), train_dataloader=dict(num_workers=4)))
    torch.set_num_threads(2)
    setup_env(cfg)
    assert torch.get_num_threads() == 1


def test_setup_env_routes_mmengine_checkpoint_loading_through_safe_load(keep_threads):
    from mmengine.runner.checkpoint import CheckpointLoader

    from videoswin.checkpoint.io import load_from_safe_local
    setup_env(Config(dict(env_cfg=dict(num_threads=1))))
    assert CheckpointLoader._get_checkpoint_loader('/some/file.pth') is load_from_safe_local


def test_amp_becomes_bf16_autocast_on_cpu(keep_threads):
    cfg = Config(dict(env_cfg=dict(num_threads=1), optim_wrapper=dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='SGD', lr=0.1))))
    setup_env(cfg)
    assert cfg.optim_wrapper.type == 'CPUBF16OptimWrapper' and 'loss_scale' not in cfg.optim_wrapper

    model = torch.nn.Linear(4, 2)
    before = model.weight.detach().clone()
    wrapper = OPTIM_WRAPPERS.build(dict(type=cfg.optim_wrapper.type,
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().pow(2).sum())
    assert model.weight.dtype == torch.float32 and not torch.equal(model.weight, before)
    assert model(torch.randn(3, 4)).dtype == torch.float32  # outside training: fp32


def test_mmaction_heads_accept_bf16_scores_after_setup(keep_threads):
    from mmaction.models.heads import I3DHead
    from mmaction.structures import ActionDataSample
    setup_env(Config(dict(env_cfg=dict(num_threads=1))))
    head = I3DHead(num_classes=5, in_channels=4, topk=(1,))
    scores = torch.randn(6, 5)
    samples = [ActionDataSample().set_gt_labels(i % 5) for i in range(6)]
    losses16 = head.loss_by_feat(scores.bfloat16(), samples)
    expected = (scores.bfloat16().float().argmax(1) == torch.arange(6) % 5).float().mean()
    assert losses16['top1_acc'].item() == pytest.approx(expected.item())


def hue_shift_by_hand(img: np.ndarray, offset: int) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    for row in hsv:
        for pixel in row:
            pixel[0] = (int(pixel[0]) + offset) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


@pytest.mark.parametrize('factor', [-0.1, -0.02, 0.0, 0.05, 0.1, 0.45])
def test_color_jitter_hue_is_numpy2_safe_and_rotates_hue(factor):
    img = np.random.default_rng(0).integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    result = adjust_hue(img.astype(np.float32), factor)
    np.testing.assert_array_equal(result, hue_shift_by_hand(img, int(factor * 255)))


def test_color_jitter_transform_runs_with_negative_hue_shifts(keep_threads):
    """Before the fix, mmaction2's ColorJitter raised OverflowError under numpy 2
    whenever it drew a negative hue shift (about half the calls)."""
    from mmaction.datasets.transforms import ColorJitter
    setup_env(Config(dict(env_cfg=dict(num_threads=1))))
    assert ColorJitter.adjust_hue is adjust_hue
    img = np.random.default_rng(1).uniform(0, 255, size=(5, 9, 3)).astype(np.float32)
    for seed in range(20):
        np.random.seed(seed)  # ColorJitter draws its factors from numpy's global RNG
        out = ColorJitter(hue=0.1)(dict(imgs=[img.copy() for _ in range(2)]))
        assert all(np.isfinite(frame).all() and frame.shape == img.shape for frame in out['imgs'])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_pytorch_launcher_without_gpus_uses_gloo_and_cpu_ddp(monkeypatch, keep_threads):
    """A one-process 'distributed' run: mmengine would call cuda.set_device and use nccl."""
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', LOCAL_WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    cfg = Config(dict(launcher='pytorch', env_cfg=dict(num_threads=1, dist_cfg=dict(
        backend='nccl'))))
    setup_env(cfg)
    try:
        assert torch.distributed.is_initialized()
        assert torch.distributed.get_backend() == 'gloo'
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    finally:
        torch.distributed.destroy_process_group()
