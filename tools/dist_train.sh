#!/usr/bin/env bash
# Train with NPROC processes per node through torchrun.
#   bash tools/dist_train.sh CONFIG NPROC [train.py args]
# Several nodes: run it on every node with the same MASTER_ADDR and PORT, e.g.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8   (node 0)
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8   (node 1)
# Without GPUs the processes talk over gloo (see videoswin/utils/setup_env.py).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG NPROC [train.py args]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
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
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
