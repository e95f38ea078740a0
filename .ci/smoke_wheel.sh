#!/usr/bin/env bash
# A plain install works: build the wheel, install it into a fresh venv without the dev extras (torch from the
# same pins as the Makefile), and run every command once on a tiny synthetic data set, from a folder outside the
# checkout (so `import vidact` is the wheel's and `vidact train NAME` finds the shipped recipe).
#
#   .ci/smoke_wheel.sh            # about 3 minutes on 2 cores (most of it installing torch from a local wheel)
#   SMOKE_DEMO=1 .ci/smoke_wheel.sh   # also `vidact demo --preset quick` (several minutes more)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
TORCH="torch==2.14.1 torchvision==0.29.1"
work=$(mktemp -d "${TMPDIR:-/tmp}/vidact-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "build the wheel (from a copy of the tree: the build leaves nothing in the checkout)"
mkdir "$work/src"
tar --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.egg-info' \
    --exclude=./benchmarks/.cache --exclude=./runs --exclude=./demo_out -cf - . |
    tar -xf - -C "$work/src"
$PYTHON -m venv "$work/build-env"
"$work/build-env/bin/python" -m pip install -q --upgrade pip
"$work/build-env/bin/python" -m pip wheel -q --no-deps -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/vidact-*.whl)
# (python's zipfile, not `unzip -l | grep -q`: CI may lack unzip, and grep -q closing the pipe early makes
# unzip die of SIGPIPE, which pipefail reports as a failure)
"$PYTHON" - "$wheel" <<'PY' || { echo "the wheel lacks the recipes or the label lists"; exit 1; }
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = [
    "vidact/configs/synthetic_simple3d.yaml",
    "vidact/models/labels/kinetics400.txt",
    "vidact/demo/explore/static/index.html",
    "vidact/demo/explore/static/pages/detection.js",
]
missing = [n for n in need if n not in names]
sys.exit(f"missing in the wheel: {missing}" if missing else 0)
PY

step "install it into a clean venv (no dev extras)"
$PYTHON -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
# shellcheck disable=SC2086
"$work/venv/bin/python" -m pip install -q "$wheel" $TORCH 'numpy<2'
vidact="$work/venv/bin/vidact"
cd "$work"  # away from the checkout
"$work/venv/bin/python" -c "import vidact, sys; assert '$work' in vidact.__file__, vidact.__file__"

export VIDACT_OFFLINE=1  # as the tests: nothing here opens a connection
step "vidact --help, models, recipes, weights list"
"$vidact" --help >/dev/null
"$work/venv/bin/python" -m vidact --help >/dev/null  # torchrun's entry point
# `grep >/dev/null`, not `grep -q`: -q stops reading at the first match and the writer may die of SIGPIPE
"$vidact" models | grep r2plus1d_18 >/dev/null
"$vidact" recipes | grep synthetic_simple3d >/dev/null
"$vidact" weights list >/dev/null

step "vidact synth (tiny)"
"$vidact" synth data --train 4 --val 2 --test 2 --size 32 --frames 8 --pair slide --workers 1 >/dev/null
video=$(ls data/test/*/*.mp4 | head -1)
"$vidact" info "$video" >/dev/null

step "vidact train synthetic_simple3d (the shipped recipe, by name; 1 epoch)"
"$vidact" train synthetic_simple3d data.root=data data.clip_len=8 data.stride=1 data.batch_size=2 \
    data.num_workers=0 train.epochs=1 --out run --no-progress
test -f run/checkpoints/best.ckpt && test -f run/metrics.json

step "vidact eval, predict, extract"
"$vidact" eval run data --split test --clips 1 --crops 1 --json eval.json >/dev/null
test -s eval.json
"$vidact" predict "$video" --model run --json pred.json >/dev/null
test -s pred.json
# published weights by name, offline: they ship in a dependency's wheel; ImageNet labels from the installed timm
"$vidact" predict "$video" --model per_frame_efficientnet_lite0.imagenet --json imagenet.json >/dev/null
grep -q '"label"' imagenet.json
"$vidact" extract features data/test --model run --out features >/dev/null
ls features | grep "\.features\.json" >/dev/null

step "optical flow, a two-stream run, late fusion, attention cost"
"$vidact" extract flow data --out flow --rgb --no-progress >/dev/null
ls flow/test/*/*/flow_x_00001.jpg >/dev/null
"$vidact" train synthetic_two_stream data.root=flow data.batch_size=2 data.num_workers=0 train.epochs=1 \
    --out ts-run --no-progress
"$vidact" eval ts-run flow --split test --scores ts.npz >/dev/null && test -s ts.npz
"$vidact" predict "$video" --model ts-run --json ts-pred.json >/dev/null && test -s ts-pred.json
"$vidact" fuse ts.npz ts.npz --sweep --json fused.json >/dev/null && test -s fused.json
"$vidact" attention-cost --frames 8 --size 64 --json cost.json >/dev/null && test -s cost.json

step "skeletons without the pose extra: synthetic joints train; pose asks for its extra in one line"
"$vidact" synth skel --kind skeleton --train 2 --val 1 --test 1 >/dev/null
"$vidact" train synthetic_stgcn data.root=skel data.batch_size=2 train.epochs=1 --out skel-run --no-progress
test -f skel-run/checkpoints/best.ckpt
"$vidact" eval skel-run skel --split test --json skel-eval.json >/dev/null && test -s skel-eval.json
set +e
"$vidact" extract pose "$video" --out poses 2>pose.err
code=$?
set -e
[[ $code == 2 ]] && grep "vidact\[pose\]" pose.err >/dev/null && [[ $(wc -l <pose.err) == 1 ]] ||
    { echo "pose without its extra: exit $code, $(cat pose.err)"; exit 1; }

step "temporal detection: untrimmed videos, features, a detector, vidact detect and eval-detection"
"$vidact" synth untrimmed --kind untrimmed --train 3 --val 2 --test 1 --size 32 --duration 10 12 \
    --action-duration 1 3 --pair slide --workers 1 >/dev/null
"$vidact" extract features untrimmed/videos --model run --window-frames 8 --stride-frames 4 \
    --out untrimmed/features >/dev/null
"$vidact" train synthetic_actionformer data.root=untrimmed/features \
    data.annotations=untrimmed/annotations.json data.batch_size=2 train.epochs=1 \
    --out det-run --no-progress
"$vidact" eval det-run untrimmed/features --split validation --json det-eval.json >/dev/null && test -s det-eval.json
"$vidact" detect untrimmed/videos/test_0000.mp4 --model det-run --features-model run --json found.json \
    >/dev/null && test -s found.json
"$work/venv/bin/python" - <<'PY'
import json
found = json.load(open("found.json"))
json.dump({"results": {"test_0000": [{"label": s["label"], "score": s["score"], "segment": [s["start"], s["end"]]}
                                     for s in found["segments"]]}}, open("submission.json", "w"))
PY
"$vidact" eval-detection --gt untrimmed/annotations.json --pred submission.json --subset testing \
    --json map.json >/dev/null && test -s map.json

step "the explorer without its extra asks for it in one line"
set +e
"$vidact" explore 2>explore.err
code=$?
set -e
[[ $code == 2 ]] && grep "vidact\[explore\]" explore.err >/dev/null && [[ $(wc -l <explore.err) == 1 ]] ||
    { echo "explore without its extra: exit $code, $(cat explore.err)"; exit 1; }

if [[ "${SMOKE_DEMO:-0}" == 1 ]]; then
    step "vidact demo --preset quick"
    "$vidact" demo --preset quick --out demo --no-progress
    test -s demo/results.json
fi
printf '\nsmoke test of the wheel: every command ran\n'
