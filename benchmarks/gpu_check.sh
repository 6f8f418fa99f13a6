#!/usr/bin/env bash
# GPU readiness of the Swin backbone, one command (< 8 min on one H200):
#
#   bash benchmarks/gpu_check.sh                      # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --device cpu --tiny  # dry run of every step on CPU
#
# Steps (benchmarks/gpu_check.py): exactness of the default attention path in fp32
# (outputs and gradients vs the textbook formula), bf16 and fp16 autocast; Swin-T
# 8x3x32x224x224 fwd+bwd time and peak memory vs mmaction2, with and without
# use_checkpoint, and a profile of where a step's time goes; 50 training iterations
# of configs/demo/swin-micro_synthetic.py with --amp (fp16 + loss scaler) whose loss
# falls, then the same with compile=True; then
# benchmarks/gpu_sharded_step.py when that file exists. Every step runs even if an
# earlier one failed; the Markdown table of all checks is printed at the end and the
# exit status is 1 if any check or step failed.
set -uo pipefail

DEVICE=cuda
TINY=()
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE="$2"; shift 2 ;;
        --tiny) TINY=(--tiny); shift ;;
        *) echo "error: gpu_check.sh: unknown argument '$1' (expected --device DEV, --tiny)" >&2
           exit 2 ;;
    esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
ROWS="$(mktemp "${TMPDIR:-/tmp}/gpu_check_rows.XXXXXX.md")"
FAILED=()
START=$SECONDS

run_step() {  # run_step NAME COMMAND...: a failing command adds a row and is remembered
    local name="$1"; shift
    echo "== $name ($((SECONDS - START)) s elapsed): $*"
    if ! "$@"; then
        echo "| $name | step exited with an error | see its log above | | **NO** |" >> "$ROWS"
        FAILED+=("$name")
    fi
}

CHECK=(python benchmarks/gpu_check.py --device "$DEVICE" --rows "$ROWS" "${TINY[@]}")
run_step exactness "${CHECK[@]}" exactness
run_step speed "${CHECK[@]}" speed --profile
run_step train "${CHECK[@]}" train
run_step 'train compile' "${CHECK[@]}" train --compile
# Sharded Swin-L step (another check, same contract): it reads GPU_CHECK_DEVICE,
# GPU_CHECK_TINY (1 or empty) and appends its rows to the Markdown file GPU_CHECK_ROWS.
if [ -f benchmarks/gpu_sharded_step.py ]; then
    GPU_CHECK_DEVICE="$DEVICE" GPU_CHECK_TINY="${TINY:+1}" GPU_CHECK_ROWS="$ROWS" \
        run_step 'sharded step' python benchmarks/gpu_sharded_step.py
fi

echo
echo "## gpu_check: $DEVICE, $(python -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device")'), torch $(python -c 'import torch; print(torch.__version__)'), $((SECONDS - START)) s"
echo
echo '| step | check | measured | target | pass |'
echo '|---|---|---|---|---|'
cat "$ROWS"
if [ ${#FAILED[@]} -gt 0 ] || grep -q '\*\*NO\*\*' "$ROWS"; then
    echo "gpu_check: FAILED (${FAILED[*]:-checks marked **NO**})" >&2
    exit 1
fi
echo "gpu_check: all checks passed"
