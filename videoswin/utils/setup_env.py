"""Process set-up shared by every tool: call ``setup_env(cfg)`` right after loading the config.

What it does, and why:

* **Intra-op threads.** torch starts one thread per core in every process. When
  several training processes or data-loader workers share the cores, those threads
  fight (on a 2-core machine an iteration got about 6x slower). The count is set
  here: ``env_cfg.num_threads`` if given, else ``OMP_NUM_THREADS`` if set, else
  the CPUs divided evenly among this node's processes and their loader workers
  (at least 1).
* **Ranks die with torchrun** (``--launcher pytorch``), even when it is SIGKILLed
  (``videoswin.utils.run_lifetime.die_with_launcher``).
* **A readable terminal**: mmengine's environment, config and hook dumps go to the
  run's log file only (``videoswin.utils.console_log``).
* **Safe checkpoint loading** for mmengine's ``load_from``/``resume``/``load_checkpoint``
  (``videoswin.checkpoint.install_safe_loader``).
* **Distributed training without GPUs.** mmengine assumes NCCL and CUDA devices:
  here the backend becomes gloo, the process group is initialised without
  ``torch.cuda.set_device``, and DDP is built with ``device_ids=None``.
* **AMP without GPUs.** ``AmpOptimWrapper`` becomes ``CPUBF16OptimWrapper``, and
  mmaction2's heads get float scores for their numpy top-k accuracy (numpy has no
  bfloat16).
* **numpy 2 in mmaction2.** ``ColorJitter.adjust_hue`` overflows on negative hue
  shifts (NEP 50 keeps ``uint8 + int`` in uint8); it is replaced by a version
  that computes the hue in int16.
"""
import os
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import init_dist, is_distributed
from mmengine.logging import print_log

from videoswin.checkpoint import install_safe_loader
from videoswin.engine.optimizers import CPUBF16OptimWrapper  # noqa: F401  (registered)
from videoswin.utils.console_log import quiet_runner_console
from videoswin.utils.run_lifetime import die_with_launcher

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def setup_env(cfg: Config) -> None:
    """Prepare this process for ``Runner.from_cfg(cfg)``; edits ``cfg`` in place.

    Reads ``cfg.launcher`` ('none', 'pytorch' or 'slurm'; the tools set it from
    ``--launcher``) and ``cfg.env_cfg``.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'pytorch':
        die_with_launcher()
    quiet_runner_console()
    install_safe_loader()
    _fix_color_jitter_for_numpy2()
    _cast_mmaction_head_scores_to_float()
    env_cfg = _section(cfg, 'env_cfg')
    if not torch.cuda.is_available():
        _use_cpu_amp(cfg)
        if launcher != 'none':
            _use_cpu_distributed(cfg)
    if launcher != 'none' and not is_distributed():
        with _cuda_set_device_disabled():
            init_dist(launcher, **env_cfg.get('dist_cfg', {}))
    threads, why = intra_op_threads(env_cfg.get('num_threads'), _max_num_workers(cfg),
                                    _local_processes(), len(os.sched_getaffinity(0)))
    torch.set_num_threads(threads)
    print_log(f'intra-op threads per process: {threads} ({why})', logger='current')


def intra_op_threads(requested: Optional[int], num_workers: int, local_processes: int,
                     cpus: int) -> Tuple[int, str]:
    """Threads for one process, and the reason, as a ``(count, why)`` pair.

    Args:
        requested: ``env_cfg.num_threads`` (None = decide).
        num_workers: data-loader workers per process.
        local_processes: training processes on this node.
        cpus: CPUs this process may run on.
    """
    if requested:
        return int(requested), 'env_cfg.num_threads'
    omp = os.environ.get('OMP_NUM_THREADS', '')
    if omp.isdigit() and int(omp) > 0:
        return int(omp), 'OMP_NUM_THREADS'
    sharers = local_processes * (1 + num_workers)
    return max(1, cpus // sharers), (f'{cpus} CPUs shared by {local_processes} process(es) '
                                     f'x (1 + {num_workers} loader workers)')


def _section(parent, key: str):
    """``parent[key]``, created empty if missing (Config/ConfigDict ``setdefault``
    returns a copy, so edits to its result would be lost)."""
    if parent.get(key) is None:
        parent[key] = {}
    return parent[key]


def _max_num_workers(cfg: Config) -> int:
    loaders = [cfg.get(name) or {} for name in DATALOADERS]
    return max([int(loader.get('num_workers', 0)) for loader in loaders])


def _local_processes() -> int:
    for var in ('LOCAL_WORLD_SIZE', 'SLURM_NTASKS_PER_NODE'):
        value = os.environ.get(var, '').split('(')[0]  # slurm may write "4(x2)"
        if value.isdigit():
            return int(value)
    return 1


def _use_cpu_amp(cfg: Config) -> None:
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper and optim_wrapper.get('type') == 'AmpOptimWrapper':
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            optim_wrapper.pop(key, None)
        optim_wrapper['type'] = 'CPUBF16OptimWrapper'
        print_log('no GPU: AMP runs as bfloat16 autocast on CPU (CPUBF16OptimWrapper)',
                  logger='current')


def _use_cpu_distributed(cfg: Config) -> None:
    dist_cfg = _section(_section(cfg, 'env_cfg'), 'dist_cfg')
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f"no GPU: distributed backend {dist_cfg.get('backend', 'nccl')!r} -> 'gloo'",
                  logger='current')
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # CPU modules take no device ids
    cfg.model_wrapper_cfg = wrapper


@contextmanager
def _cuda_set_device_disabled() -> Iterator[None]:
    """mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which a CPU-only
    torch lacks; make it a no-op for the duration of the call."""
    if torch.cuda.is_available():
        yield
        return
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


def adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """Rotate the hue of an RGB image by ``factor * 255`` OpenCV hue units (of 180).

    Same result as mmaction2's ``ColorJitter.adjust_hue`` under numpy 1, with the
    sum taken in int16 so that negative shifts do not overflow uint8 under numpy 2.
    """
    hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
    hue = hsv[..., 0].astype(np.int16) + int(factor * 255)
    hsv[..., 0] = np.mod(hue, 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


def _fix_color_jitter_for_numpy2() -> None:
    from mmaction.datasets.transforms import ColorJitter
    ColorJitter.adjust_hue = staticmethod(adjust_hue)


def _cast_mmaction_head_scores_to_float() -> None:
    from mmaction.models.heads.base import BaseHead
    if getattr(BaseHead.loss_by_feat, 'casts_to_float', False):
        return
    original = BaseHead.loss_by_feat

    def loss_by_feat(self, cls_scores, data_samples):
        return original(self, cls_scores.float(), data_samples)

    loss_by_feat.casts_to_float = True
    BaseHead.loss_by_feat = loss_by_feat
