#!/usr/bin/env bash
# The baseline's GPU run on record, in one go (run it from anywhere; it works in the checkout):
#   1. installs lssbench with the baseline extra (skipped with INSTALL=0; torch with CUDA must be there),
#   2. synthesizes the default 100 patients,
#   3. trains the default config, predicts the test split, validates and scores it, and writes the
#      record baselines/results/<YYYY-MM-DD>-<device>.json (python -m baselines bench),
#   4. unless COMPILE=0: the same with --compile, for eager against compiled images/s
#      (record <YYYY-MM-DD>-<device>-compile.json),
#   5. rewrites the records table of baselines/RESULTS.md.
# Environment: WORK (default: a new temporary folder), LIMIT_S (seconds per bench, default 900),
# INSTALL=0, COMPILE=0, EXTRA (more arguments for bench, e.g. "--epochs 60").
# The bars of issue 12 on one H100/H200: <= 10 minutes, AP50 >= 0.85, QWK >= 0.75, mean Dice >= 0.90.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/lssbench-gpu.XXXXXX")}"
LIMIT_S="${LIMIT_S:-900}"
PYTHON="${PYTHON:-python}"
echo "checkout $ROOT, work folder $WORK"

if [ "${INSTALL:-1}" != 0 ]; then
    # an existing CUDA torch satisfies the extra and is kept; offline machines fall back to no build isolation
    "$PYTHON" -m pip install -q ".[baseline]" || "$PYTHON" -m pip install -q --no-build-isolation --no-deps .
fi
"$PYTHON" - <<'EOF'
import torch
assert torch.cuda.is_available(), "torch sees no GPU: this script is for a GPU machine"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x "
      f"{torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

DATA="$WORK/data100"
[ -d "$DATA" ] || "$PYTHON" -m lssbench synth "$DATA" --seed 0      # the default 100 patients

bench() {  # bench NAME [extra arguments]
    local name="$1"; shift
    timeout "$LIMIT_S" "$PYTHON" -m baselines bench --data "$DATA" --work "$WORK/$name" \
        --config default --device cuda ${EXTRA:-} "$@" 2>&1 | tee "$WORK/$name.log"
    "$PYTHON" -m lssbench validate "$WORK/$name/preds" --gt "$WORK/$name/gt"
}
bench eager
[ "${COMPILE:-1}" = 0 ] || bench compiled --compile

"$PYTHON" -m baselines records
grep -h "bench:" "$WORK"/*.log
echo "records in $ROOT/baselines/results; the runs in $WORK"
