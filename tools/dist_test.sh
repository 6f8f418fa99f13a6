#!/usr/bin/env bash
# Test a checkpoint with NPROC processes per node through torchrun.
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args]
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR and PORT as in dist_train.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash $0 CONFIG CHECKPOINT NPROC [test.py args]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# exec: torchrun takes this shell's pid, so killing the pid this script started kills
# torchrun, which stops the ranks; the ranks also die with it when it is SIGKILLed
# (videoswin/utils/run_lifetime.py reads VIDEOSWIN_LAUNCHER_PID).
export VIDEOSWIN_LAUNCHER_PID=$$
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
