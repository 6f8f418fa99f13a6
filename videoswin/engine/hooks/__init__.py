
from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .bad_samples import BadSampleHook  # noqa: F401
from .batch_contract_hook import BatchContractHook  # noqa: F401
from .checkpoint_layout_hook import CheckpointLayoutHook  # noqa: F401
from .label_check_hook import LabelCheckHook  # noqa: F401
from .nonfinite_loss_hook import NonFiniteLossHook  # noqa: F401
from .release_workers_hook import ReleaseWorkersHook  # noqa: F401
from .resource_monitor_hook import ResourceMonitorHook  # noqa: F401
