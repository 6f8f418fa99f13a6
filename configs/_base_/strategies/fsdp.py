# Sharded data parallel: torch FSDP through mmengine's FlexibleRunner (tools/train.py
# builds a FlexibleRunner whenever a config has `strategy`). Add this file to a recipe's
# _base_ list, or switch an existing recipe with --cfg-options strategy.type=FSDPStrategy
# plus the fields below. docs/distributed.md explains when it pays off.
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel',
        # one FSDP unit per SwinTransformerBlock3D (videoswin/engine/sharding.py); the
        # embedding, merging layers, last norm and head form the root unit
        auto_wrap_policy=dict(type='videoswin.swin_block_wrap_policy'),
        # parameters, gradients and AdamW state sharded over all ranks (ZeRO-3 style);
        # SHARD_GRAD_OP keeps parameters gathered between forward and backward
        sharding_strategy='FULL_SHARD',
        # the parameter groups (lr x0.1 backbone, no decay for norms and bias tables)
        # are built from the original parameter names
        use_orig_params=True,
        backward_prefetch='BACKWARD_PRE',
        limit_all_gathers=True),
    # recompute each Swin block in backward: activation memory of one block per stage
    activation_checkpointing=dict(check_fn='videoswin.is_swin_block'),
    # checkpoints hold the full (unsharded) state, written by rank 0: tools/test.py,
    # the converters and a DDP run load them as they load any other checkpoint
    state_dict_cfg='full')
