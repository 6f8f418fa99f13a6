# The recipe in the parent folder without "fsdp" in its name, trained with FSDP
# (parameters, gradients and optimizer state sharded over the processes, each Swin
# block recomputed in backward). Same model, data, schedule and batch contract
# (8 processes x 8 clips x 1 = 64), so the numbers it should reach are that recipe's.
# Launch with tools/dist_train.sh or tools/slurm_train.sh (docs/distributed.md).
_base_ = [
    '../swin-large-p244-w81212-res384_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py',
    '../../../_base_/strategies/fsdp.py'
]
