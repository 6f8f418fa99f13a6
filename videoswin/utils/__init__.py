"""Environment set-up and small helpers shared by the tools."""
import datetime
import warnings

from mmengine import DefaultScope

# mmcv-lite (the pinned mmcv, see requirements.txt) lacks the compiled ops, and importing
# mmaction2 makes mmcv warn "install mmcv rather than mmcv-lite" about an attention op
# that nothing here uses; the tools import this package first, so the warning is off.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module of videoswin (and mmaction2) so the registries are complete.

    Args:
        init_default_scope: make ``videoswin`` the current default scope, so that
            ``type=`` names resolve in our registries first, then mmaction2's.
    """
    from mmaction.utils import register_all_modules as register_mmaction

    register_mmaction(init_default_scope=False)
    import videoswin.checkpoint  # noqa: F401
    import videoswin.datasets  # noqa: F401
    import videoswin.engine  # noqa: F401
    import videoswin.evaluation  # noqa: F401
    import videoswin.models  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('videoswin'):
        DefaultScope.get_instance('videoswin', scope_name='videoswin')
    elif current.scope_name != 'videoswin':
        warnings.warn(f'default scope was "{current.scope_name}"; switching it to "videoswin"')
        DefaultScope.get_instance(f'videoswin-{datetime.datetime.now()}', scope_name='videoswin')
