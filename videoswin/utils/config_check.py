"""Check a config before anything is built: misspelt top-level keys, numeric entries of
the wrong type or range, unknown ``type`` names, misspelt arguments, missing annotation
files and data folders, each reported as one :class:`ConfigError` that names the config
key (and the closest valid spelling, or what is expected).

mmengine finds the same mistakes only while building, deep inside nested builders
(``KeyError: 'Foo is not in the model registry...'``, ``TypeError: class `X` in
/path: __init__() got an unexpected keyword argument``), and missing files only when
the dataset loads. Tools call :func:`check_config` right after loading the config.
"""
import difflib
import inspect
import os.path as osp
import re
from typing import Any, Iterator, List, Optional, Set, Tuple

import torch
from mmengine.config import Config

from videoswin import registry as R
from videoswin.datasets.listed_files import check_listed_files

from .config_values import check_values
from .errors import ConfigError

# top-level config key -> registry of its ``type``
_SECTIONS = {
    'model': R.MODELS,
    'optim_wrapper': R.OPTIM_WRAPPERS,
    'param_scheduler': R.PARAM_SCHEDULERS,
    'default_hooks': R.HOOKS,
    'custom_hooks': R.HOOKS,
    'visualizer': R.VISUALIZERS,
    'log_processor': R.LOG_PROCESSORS,
    'model_wrapper_cfg': R.MODEL_WRAPPERS,
    'train_cfg': R.LOOPS,
    'val_cfg': R.LOOPS,
    'test_cfg': R.LOOPS,
    'val_evaluator': R.METRICS,
    'test_evaluator': R.METRICS,
    'train_dataloader': None,  # not built by type; its parts are (see _CHILDREN)
    'val_dataloader': None,
    'test_dataloader': None,
}
# key inside a config dict -> registry of the dicts it holds (default: the parent's)
_CHILDREN = {
    'dataset': R.DATASETS,
    'datasets': R.DATASETS,
    'pipeline': R.TRANSFORMS,
    'transforms': R.TRANSFORMS,
    'sampler': R.DATA_SAMPLERS,
    'batch_sampler': R.DATA_SAMPLERS,
    'optimizer': R.OPTIMIZERS,
    'vis_backends': R.VISBACKENDS,
}
# never checked: mmengine builds these with their own rules
_SKIPPED_KEYS = {'init_cfg', 'collate_fn', 'worker_init_fn', 'paramwise_cfg'}
# keys that a registry's build function takes off before calling the class
_BUILDER_KEYS = {
    'parameter scheduler': {'convert_to_iter_based'},
    'optim_wrapper': {'constructor', 'paramwise_cfg'},
}
_MODE_SECTIONS = {
    'train': ('model', 'optim_wrapper', 'param_scheduler', 'default_hooks', 'custom_hooks',
              'visualizer', 'log_processor', 'model_wrapper_cfg', 'train_cfg', 'val_cfg',
              'val_evaluator', 'train_dataloader', 'val_dataloader'),
    'test': ('model', 'default_hooks', 'custom_hooks', 'visualizer', 'log_processor',
             'model_wrapper_cfg', 'test_cfg', 'test_evaluator', 'test_dataloader'),
}
# sections whose numbers are checked besides those of the mode
_VALUE_SECTIONS = {'train': ('randomness', 'env_cfg', 'auto_scale_lr'),
                   'test': ('randomness', 'env_cfg')}
#: Top-level keys something reads: mmengine's ``Runner.from_cfg`` and the runner it
#: builds, mmengine's config loader, and the tools. A config may hold its own
#: variables too (``data_root``, ``train_pipeline``...); see :func:`check_top_level_keys`.
KNOWN_TOP_LEVEL = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg',
    'find_unused_parameters', 'compile', 'activation_checkpointing', 'efficient_conv_bn_eval',
    'custom_imports', 'dist_params', 'cudnn_benchmark', 'mp_cfg', 'strategy'})
# a top-level key this close to a known one (difflib ratio) is taken for a misspelling
_MISSPELT_CUTOFF = 0.8
_FORWARDS_KWARGS = re.compile(r'super\(\s*[^)]*\)\s*\.__init__\([^)]*\*\*\s*kwargs', re.S)


def check_config(cfg: Config, mode: str = 'train', check_paths: bool = True) -> None:
    """Raise :class:`ConfigError` for the first problem in the parts ``mode`` uses.

    Args:
        cfg: the loaded config (modules registered, default scope set).
        mode: 'train' (model, schedule, hooks, train and val data) or 'test'.
        check_paths: also check that annotation files and data folders exist.
    """
    if mode not in _MODE_SECTIONS:
        raise ValueError(f"mode must be one of {sorted(_MODE_SECTIONS)}, got {mode!r}")
    check_top_level_keys(cfg)
    for section in _MODE_SECTIONS[mode] + _VALUE_SECTIONS[mode]:
        check_values(cfg.get(section), section)
    for section in _MODE_SECTIONS[mode]:
        if cfg.get(section) is None:
            continue
        for key, node, registry in _typed_nodes(cfg[section], section, _SECTIONS[section]):
            _check_node(key, node, registry)
    for section in _MODE_SECTIONS[mode] if check_paths else ():
        if section.endswith('_dataloader') and cfg.get(section) is not None:
            if section == 'val_dataloader' and cfg.get('val_cfg') is None:
                continue
            _check_data_paths(cfg[section], section)


def check_top_level_keys(cfg: Config) -> None:
    """Refuse a top-level key that nothing reads and that is a near miss of one that
    something does (``trian_dataloader``), which would otherwise be ignored silently.

    A config's own variables are allowed: any key not close to a known one, and any
    key starting with ``_`` (the way to keep a name such as ``train_dataloader2``).
    """
    for key in cfg.keys():
        if key in KNOWN_TOP_LEVEL or key.startswith('_'):
            continue
        match = difflib.get_close_matches(key, sorted(KNOWN_TOP_LEVEL), n=1,
                                          cutoff=_MISSPELT_CUTOFF)
        if match:
            raise ConfigError(f"{key}: not a config key anything reads (did you mean "
                              f"'{match[0]}'?); a variable of your own may start with '_'")


def check_option_keys(cfg: Config, options: dict) -> None:
    """Refuse a ``--cfg-options`` key that would create a new top-level entry nothing
    reads (``cls_head.num_classes=0`` for ``model.cls_head.num_classes=0``), naming the
    full keys of the config that end like it."""
    for key in options:
        top = key.split('.')[0]
        if top in cfg or top in KNOWN_TOP_LEVEL:
            continue
        ends = sorted(path for path in _dotted_keys(cfg.to_dict(), '')
                      if path.endswith(f'.{key}') and not path.startswith('_'))
        hint = (f" (did you mean {' or '.join(ends[:3])}?)" if ends
                else _closest(top, set(cfg.keys()) | KNOWN_TOP_LEVEL))
        raise ConfigError(f"--cfg-options {key}: the config has no key '{top}'{hint}")


def _dotted_keys(node: Any, key: str) -> Iterator[str]:
    if isinstance(node, dict):
        for child_key, child in node.items():
            path = f'{key}.{child_key}' if key else str(child_key)
            yield path
            yield from _dotted_keys(child, path)


def _typed_nodes(node: Any, key: str, registry) -> Iterator[Tuple[str, dict, Any]]:
    """Every dict with a ``type`` under ``node``, with its dotted key and registry."""
    if isinstance(node, dict):
        if 'type' in node and registry is not None:
            yield key, node, registry
        for child_key, child in node.items():
            if child_key in _SKIPPED_KEYS or child_key == 'type':
                continue
            child_registry = _CHILDREN.get(child_key, registry)
            yield from _typed_nodes(child, f'{key}.{child_key}', child_registry)
    elif isinstance(node, (list, tuple)):
        for i, child in enumerate(node):
            yield from _typed_nodes(child, f'{key}[{i}]', registry)


def _registered_names(registry) -> Set[str]:
    names = set()
    while registry is not None:
        names.update(registry.module_dict)
        registry = registry.parent
    return names


def _check_node(key: str, node: dict, registry) -> None:
    obj_type = node['type']
    if isinstance(obj_type, str):
        obj = registry.get(obj_type)
        if obj is None:
            hint = (_closest(obj_type.split('.')[-1], _registered_names(registry))
                    or ' (is the module that registers it in custom_imports?)')
            raise ConfigError(f"{key}.type: '{obj_type}' is not a registered {registry.name}"
                              f'{hint}')
    else:
        obj = obj_type
    if not inspect.isclass(obj):
        return
    accepted = accepted_arguments(obj)
    if accepted is None:
        return
    accepted |= _BUILDER_KEYS.get(registry.name, set())
    for arg in node:
        if arg != 'type' and arg not in accepted:
            raise ConfigError(f"{key}: {obj.__name__} has no argument '{arg}'"
                              f'{_closest(arg, accepted)}')


def accepted_arguments(cls: type) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts, or None when that cannot be known.

    Follows ``**kwargs`` up the class hierarchy while each ``__init__`` hands them
    to ``super().__init__``; stops (unknown) at one that keeps them for itself.
    """
    names: Set[str] = set()
    for klass in cls.__mro__:
        if klass in (object, torch.nn.Module):
            return names
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            return None
        if not _FORWARDS_KWARGS.search(source):
            return None
    return None


def _closest(word: str, choices: Set[str]) -> str:
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ''


def _datasets(node: Any, key: str) -> Iterator[Tuple[str, dict]]:
    """Dataset dicts (those with an ``ann_file``) under a dataloader config."""
    if isinstance(node, dict):
        if 'ann_file' in node:
            yield key, node
        for child_key in ('dataset', 'datasets'):
            if child_key in node:
                yield from _datasets(node[child_key], f'{key}.{child_key}')
    elif isinstance(node, (list, tuple)):
        for i, child in enumerate(node):
            yield from _datasets(child, f'{key}[{i}]')


def _resolve(path: str, data_root: str) -> str:
    # mmengine's BaseDataset joins relative paths to data_root the same way
    return osp.join(data_root, path) if data_root and not osp.isabs(path) else path


def _check_data_paths(dataloader: dict, section: str) -> None:
    for key, dataset in _datasets(dataloader.get('dataset'), f'{section}.dataset'):
        data_root = dataset.get('data_root') or ''
        if data_root and not osp.isdir(data_root):
            raise ConfigError(f'{key}.data_root: no such folder: {data_root}')
        ann_file = dataset.get('ann_file')
        if ann_file:
            path = _resolve(ann_file, data_root)
            if not osp.isfile(path):
                raise ConfigError(f'{key}.ann_file: no such file: {path}')
        prefixes = dataset.get('data_prefix') or {}
        missing: List[Tuple[str, str]] = [
            (name, _resolve(folder, data_root)) for name, folder in prefixes.items()
            if isinstance(folder, str) and folder and not osp.isdir(_resolve(folder, data_root))]
        if missing:
            name, folder = missing[0]
            raise ConfigError(f'{key}.data_prefix.{name}: no such folder: {folder}')
        check_listed_files(dataset, key)  # the first listed files are under the root
