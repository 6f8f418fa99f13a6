#!/usr/bin/env bash
# Train and test a small Video Swin on CPU in a few minutes, from nothing:
#   bash tools/quickstart.sh [extra tools/train.py arguments]
#  1. writes the synthetic motion-direction dataset to data/synthetic (if absent),
#  2. trains configs/demo/swin-micro_synthetic.py with tools/train.py,
#  3. tests the last checkpoint with tools/test.py: 2 clips x 3 crops per held-out video,
#  4. prints the top-1 accuracy.
# data/ and work_dirs/ are taken relative to the current directory (run it from the
# repository root). SYNTHETIC_ARGS passes options to tools/data/make_synthetic.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}
CONFIG="$ROOT/configs/demo/swin-micro_synthetic.py"
DATA=data/synthetic  # the config's data_root
WORK_DIR=${WORK_DIR:-work_dirs/quickstart}
SECONDS=0

if [ -f "$DATA/train_list.txt" ] && [ -f "$DATA/val_list.txt" ]; then
    echo "== using the synthetic dataset in $DATA"
else
    echo "== writing the synthetic dataset to $DATA"
    # shellcheck disable=SC2086  # SYNTHETIC_ARGS holds several words on purpose
    "$PYTHON" "$ROOT/tools/data/make_synthetic.py" "$DATA" ${SYNTHETIC_ARGS:-}
fi

echo "== training $CONFIG (log and checkpoints in $WORK_DIR)"
"$PYTHON" "$ROOT/tools/train.py" "$CONFIG" --work-dir "$WORK_DIR" "$@"

CHECKPOINT=$(cat "$WORK_DIR/last_checkpoint")
echo "== testing $CHECKPOINT"
"$PYTHON" "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --work-dir "$WORK_DIR" \
    --dump "$WORK_DIR/predictions.pkl" | tee "$WORK_DIR/test_metrics.txt"

TOP1=$(sed -n 's/^top-1 accuracy: //p' "$WORK_DIR/test_metrics.txt")
VIDEOS=$(wc -l < "$DATA/val_list.txt")
echo "== quickstart: top-1 accuracy ${TOP1} on ${VIDEOS} held-out videos" \
     "(2 clips x 3 crops each), ${SECONDS} s in all"
