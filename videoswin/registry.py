"""Registries of the ``videoswin`` scope.

Each registry is a child of the matching mmaction2 registry (itself a child of
mmengine's). With ``default_scope='videoswin'`` a config therefore names our
modules and, through the parent lookup, mmaction2's transforms, datasets and
metrics, with nothing imported by hand. ``locations`` makes a registry import
our modules the first time it is searched, so ``import videoswin`` is enough to
build any of them.
"""
from mmaction import registry as mma
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import Registry


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return Registry(name, parent=parent, scope='videoswin',
                    locations=[f'videoswin.{loc}' for loc in locations])


RUNNERS = _child('runner', mma.RUNNERS, 'engine')
RUNNER_CONSTRUCTORS = _child('runner constructor', mma.RUNNER_CONSTRUCTORS, 'engine')
LOOPS = _child('loop', mma.LOOPS, 'engine')
HOOKS = _child('hook', mma.HOOKS, 'engine')
LOG_PROCESSORS = _child('log processor', mma.LOG_PROCESSORS, 'engine')
OPTIMIZERS = _child('optimizer', mma.OPTIMIZERS, 'engine')
OPTIM_WRAPPERS = _child('optim_wrapper', mma.OPTIM_WRAPPERS, 'engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    mma.OPTIM_WRAPPER_CONSTRUCTORS, 'engine')
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, 'engine')
STRATEGIES = _child('strategy', MMENGINE_STRATEGIES, 'engine')
PARAM_SCHEDULERS = _child('parameter scheduler', mma.PARAM_SCHEDULERS, 'engine')
DATASETS = _child('dataset', mma.DATASETS, 'datasets')
DATA_SAMPLERS = _child('data sampler', mma.DATA_SAMPLERS, 'datasets')
TRANSFORMS = _child('transform', mma.TRANSFORMS, 'datasets')
MODELS = _child('model', mma.MODELS, 'models')
MODEL_WRAPPERS = _child('model_wrapper', mma.MODEL_WRAPPERS, 'models')
WEIGHT_INITIALIZERS = _child('weight initializer', mma.WEIGHT_INITIALIZERS, 'models')
TASK_UTILS = _child('task util', mma.TASK_UTILS, 'models')
METRICS = _child('metric', mma.METRICS, 'evaluation')
EVALUATOR = _child('evaluator', mma.EVALUATOR, 'evaluation')
VISUALIZERS = _child('visualizer', mma.VISUALIZERS, 'evaluation')
VISBACKENDS = _child('vis_backend', mma.VISBACKENDS, 'evaluation')
