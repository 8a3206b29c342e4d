#!/usr/bin/env bash
# One prepared check on an NVIDIA GPU machine (CUDA 13, CuPy cupy-cuda13x, PyTorch, no network):
#
#     bash bench/gpu_check.sh OUTDIR            # about 7 minutes at most
#     bash bench/gpu_check.sh OUTDIR --dry-run  # print every part's command and budget; run nothing
#
# Parts, in this order, each under `timeout` with its own budget in seconds (the slow parts last; the
# whole run stops within GPU_CHECK_TOTAL_S, default 420, each part getting at most what is left):
#   env         20  nvidia-smi, Python and package versions (CuPy, CUDA runtime/driver, PyTorch, pytest...)
#   install     45  pip install --no-index --no-deps --no-build-isolation -e .   (fetches nothing)
#   import      20  import minigen, minigen.kernels, minigen.models; if that fails, a PYTHONPATH shim
#                   (a sitecustomize mapping setup.py's package_dir) is tried once more ("import-shim")
#   device      30  CuPy must see a real CUDA device and mg.cuda.is_available() be True; one hand-written
#                   kernel is compiled (NVRTC) and checked. Without a device the GPU parts below are
#                   skipped (pytest would otherwise run the gpu tests on tests/fake_cupy.py)
#   kernels     90  python bench/kernels.py --rounds 7
#   train_step 120  python bench/train_step.py --device cuda --rounds 5 --steps 5
#   gpu_tests  200  MINIGEN_FAKE_GPU=0 python -m pytest -m gpu ... (junit XML; --timeout 90 per test when
#                   pytest-timeout is installed); gets what is left of the total, at most its budget
#
# OUTDIR receives at most 8 files: summary.json (every part's command, exit code, seconds, timed_out;
# rewritten when each part starts and ends, and on TERM/INT/HUP, so a stopped run keeps what has run),
# setup.log (env, install, import, device), kernels.log, train_step.log, gpu_tests.log, gpu_tests.xml,
# and copies of the benchmarks' kernels-<gpu>.json and train_step-<gpu>.json (which they also write to
# bench/results/). Logs are written as the parts run (also tee'd to stdout).
#
# Environment: PYTHON (default python3), GPU_CHECK_TOTAL_S, GPU_CHECK_BUDGET_<PART> (ENV, INSTALL, IMPORT,
# DEVICE, KERNELS, TRAIN_STEP, GPU_TESTS), GPU_CHECK_KERNELS_ARGS, GPU_CHECK_TRAIN_STEP_ARGS,
# GPU_CHECK_PYTEST_ARGS (extra pytest arguments, e.g. "-k conv" or "-n 4" with pytest-xdist).
# Exit status: 0 when every part passed, 1 when one failed, timed out or was skipped, 2 on bad usage,
# 130/143 when stopped by a signal.
set -u

usage() { echo "usage: bash bench/gpu_check.sh OUTDIR [--dry-run]" >&2; exit 2; }

OUTDIR="" DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "gpu_check: unknown option $arg" >&2; usage ;;
        *) [ -z "$OUTDIR" ] || usage; OUTDIR=$arg ;;
    esac
done
[ -n "$OUTDIR" ] || usage

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
case "$OUTDIR" in /*) ;; *) OUTDIR=$PWD/$OUTDIR ;; esac
PY=${PYTHON:-python3}
TOTAL_S=${GPU_CHECK_TOTAL_S:-420}
KERNELS_ARGS=${GPU_CHECK_KERNELS_ARGS:---rounds 7}
TRAIN_STEP_ARGS=${GPU_CHECK_TRAIN_STEP_ARGS:---rounds 5 --steps 5}
PYTEST_EXTRA=${GPU_CHECK_PYTEST_ARGS:-}
export LC_NUMERIC=C PYTHONUNBUFFERED=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 REPO OUTDIR PY

budget() {  # budget PART DEFAULT: GPU_CHECK_BUDGET_<PART> or DEFAULT
    local var="GPU_CHECK_BUDGET_$1"
    echo "${!var:-$2}"
}

# ----------------------------------------------------------------------------------- python snippets

# env: versions as JSON (stdout, and the file argv[1] for summary.json)
ENV_PY='
import importlib.metadata as md, json, platform, sys
info = {"python": platform.python_version(), "executable": sys.executable}
for dist in ("numpy", "cupy-cuda13x", "cupy-cuda12x", "cupy", "torch", "pytest", "hypothesis", "pytest-timeout",
             "pytest-xdist", "scipy", "setuptools", "wheel", "pip"):
    try:
        info[dist] = md.version(dist)
    except Exception:
        pass
try:
    import cupy
    rt = cupy.cuda.runtime
    info.update(cuda_runtime=rt.runtimeGetVersion(), cuda_driver=rt.driverGetVersion(),
                cupy_device_count=rt.getDeviceCount())
except Exception as e:
    info["cupy_error"] = repr(e)
try:
    import torch
    info.update(torch_cuda=torch.version.cuda, torch_cuda_available=torch.cuda.is_available(),
                cudnn=torch.backends.cudnn.version() if torch.cuda.is_available() else None)
except Exception as e:
    info["torch_error"] = repr(e)
text = json.dumps(info, indent=1)
print(text)
if len(sys.argv) > 1:  # whole or not at all: summary.json embeds it
    open(sys.argv[1] + ".tmp", "w").write(text)
    __import__("os").replace(sys.argv[1] + ".tmp", sys.argv[1])
'

# import: where minigen and its mapped packages come from
IMPORT_PY='
import minigen, minigen.kernels, minigen.models
from minigen.kernels import _cuda
print("minigen", minigen.__version__, "from", minigen.__file__)
print("minigen.kernels from", minigen.kernels.__file__, "(.cu sources in", str(_cuda.HERE) + ")")
print("minigen.models from", minigen.models.__file__)
'

# device: a real CUDA device through CuPy and minigen, one hand-written kernel against its reference;
# writes the GPU name to argv[1] once the device is confirmed
DEVICE_PY='
import sys
try:
    import cupy as cp
except Exception as e:
    sys.exit(f"gpu_check: CuPy does not import ({e!r}): no GPU check is possible")
try:
    n = cp.cuda.runtime.getDeviceCount()
except Exception as e:
    sys.exit(f"gpu_check: CuPy sees no CUDA device ({e!r}); the GPU parts are skipped")
if n < 1:
    sys.exit("gpu_check: CuPy sees no CUDA device (getDeviceCount() == 0); the GPU parts are skipped")
p = cp.cuda.runtime.getDeviceProperties(0)
name = p["name"].decode() if isinstance(p["name"], bytes) else str(p["name"])
cc, gib = "%d.%d" % (p["major"], p["minor"]), p["totalGlobalMem"] / 2**30
print(f"CuPy {cp.__version__} sees {n} device(s); device 0: {name}, compute capability {cc}, {gib:.0f} GiB, "
      f"CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}, driver {cp.cuda.runtime.driverGetVersion()}")
import minigen as mg
if not mg.cuda.is_available():
    sys.exit("gpu_check: CuPy sees a device but mg.cuda.is_available() is False; the GPU parts are skipped")
open(sys.argv[1], "w").write(name)
x = mg.randn(64, 64, device="cuda")
print("minigen on cuda: (x @ x).sum() =", float((x @ x).sum().item()), "device", x.device)
import numpy as np
from minigen.kernels import bias_act
a = cp.asarray(np.random.default_rng(0).standard_normal((4, 8, 5, 5)).astype(np.float32))
b = cp.asarray(np.random.default_rng(1).standard_normal(8).astype(np.float32))
y = bias_act.cuda_bias_act(a, b, "leaky_relu", 0.2, 1)
z = a + b[:, None, None]
err = float(cp.abs(y - cp.where(z > 0, z, z * np.float32(0.2))).max())
print(f"kernels/bias_act.cu through NVRTC: max abs error {err:.2e}")
sys.exit(0 if err < 1e-5 else "gpu_check: bias_act kernel disagrees with its reference")
'

# import-shim: sitecustomize.py for PYTHONPATH when the editable install failed (maps setup.py's
# package_dir, e.g. minigen.kernels -> kernels/, and runs any other sitecustomize on the path)
SHIM_PY='# written by bench/gpu_check.sh: the minigen packages where package_dir in setup.py puts them
import ast, importlib.util, os, sys
from importlib.machinery import PathFinder

_REPO = os.environ.get("MINIGEN_SHIM_REPO", "")


def _package_dir():
    try:
        for node in ast.walk(ast.parse(open(os.path.join(_REPO, "setup.py")).read())):
            if isinstance(node, ast.keyword) and node.arg == "package_dir":
                return ast.literal_eval(node.value)
    except Exception:
        pass
    return {"minigen": "minigen", "minigen.kernels": "kernels", "minigen.models": "models"}


_MAP = {name: os.path.join(_REPO, folder) for name, folder in _package_dir().items()}


class _MinigenFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        folder = _MAP.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(fullname, os.path.join(folder, "__init__.py"),
                                                      submodule_search_locations=[folder])


sys.meta_path.insert(0, _MinigenFinder)
_here = os.path.dirname(os.path.abspath(__file__))
_other = PathFinder.find_spec("sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _other is not None and _other.origin and os.path.abspath(_other.origin) != os.path.abspath(__file__):
    exec(compile(open(_other.origin).read(), _other.origin, "exec"), {"__name__": "sitecustomize_chained"})
'

# ----------------------------------------------------------------------------------------- commands

PIP_CMD="\"\$PY\" -m pip install --no-index --no-deps --no-build-isolation -e ."
ENV_CMD="if command -v nvidia-smi >/dev/null; then nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; else echo 'gpu_check: no nvidia-smi on PATH'; fi; \"\$PY\" -c \"\$ENV_PY\" \"\$WORK/env.json\""
IMPORT_CMD="\"\$PY\" -c \"\$IMPORT_PY\""
DEVICE_CMD="\"\$PY\" -c \"\$DEVICE_PY\" \"\$WORK/gpu_name\""
KERNELS_CMD="\"\$PY\" bench/kernels.py $KERNELS_ARGS"
TRAIN_STEP_CMD="\"\$PY\" bench/train_step.py --device cuda $TRAIN_STEP_ARGS"
PYTEST_TIMEOUT_OPT="--timeout=90"
pytest_cmd() {  # $1: the per-test timeout option ("" without pytest-timeout)
    echo "MINIGEN_FAKE_GPU=0 \"\$PY\" -m pytest -m gpu -q -rfEs -p no:cacheprovider --continue-on-collection-errors --durations=25 --junitxml=\"\$OUTDIR/gpu_tests.xml\"${1:+ $1}${PYTEST_EXTRA:+ $PYTEST_EXTRA}"
}

# ---------------------------------------------------------------------------------------- dry run

if [ "$DRY_RUN" = 1 ]; then
    echo "gpu_check: dry run, nothing is run or written. OUTDIR=$OUTDIR, PY=$PY, repository $REPO"
    echo "gpu_check: total budget ${TOTAL_S} s; each part runs under: timeout -s INT -k 5 BUDGET bash -c COMMAND"
    show() { printf '[%-11s] budget %4s s, log %-15s %s\n' "$1" "$2" "$3" "$4"; }
    show env "$(budget ENV 20)" setup.log "$ENV_CMD"
    show install "$(budget INSTALL 45)" setup.log "$PIP_CMD"
    show import "$(budget IMPORT 20)" setup.log "$IMPORT_CMD"
    show import-shim "$(budget IMPORT 20)" setup.log "(only if import failed) PYTHONPATH=\$WORK/shim:$REPO MINIGEN_SHIM_REPO=$REPO $IMPORT_CMD"
    show device "$(budget DEVICE 30)" setup.log "$DEVICE_CMD"
    show kernels "$(budget KERNELS 90)" kernels.log "$KERNELS_CMD   (then bench/results/kernels-<gpu>.json -> OUTDIR)"
    show train_step "$(budget TRAIN_STEP 120)" train_step.log "$TRAIN_STEP_CMD   (then bench/results/train_step-<gpu>.json -> OUTDIR)"
    show gpu_tests "$(budget GPU_TESTS 200)" gpu_tests.log "$(pytest_cmd "$PYTEST_TIMEOUT_OPT")   ($PYTEST_TIMEOUT_OPT only with pytest-timeout)"
    echo "gpu_check: kernels, train_step and gpu_tests run only when the device part found a CUDA device"
    echo "gpu_check: OUTDIR gets summary.json, setup.log, kernels.log, train_step.log, gpu_tests.log, gpu_tests.xml,"
    echo "           kernels-<gpu>.json and train_step-<gpu>.json (8 files at most)"
    echo "--- ENV_PY ---$ENV_PY--- IMPORT_PY ---$IMPORT_PY--- DEVICE_PY ---$DEVICE_PY"
    exit 0
fi

# ------------------------------------------------------------------------------------------- state

mkdir -p "$OUTDIR" || { echo "gpu_check: cannot create $OUTDIR" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 2
export WORK ENV_PY IMPORT_PY DEVICE_PY
SUMMARY=$OUTDIR/summary.json
START_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ)
START_S=$(date +%s)
DEADLINE=$((START_S + TOTAL_S))
STATUS=running INSTALL_MODE=unknown GPU_NAME="" CURRENT="" TPID="" PART_T0="" EXIT_STATUS=0
P_NAME=() P_CMD=() P_BUDGET=() P_LOG=() P_STATUS=() P_RC=() P_SECONDS=() P_TIMED_OUT=() P_NOTE=()

now() { echo "${EPOCHREALTIME:-$(date +%s)}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

json_str() {
    local s=$1
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/}
    s=$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')
    printf '"%s"' "$s"
}
json_or_null() { if [ -n "$1" ]; then printf '%s' "$1"; else printf null; fi; }

write_summary() {
    local tmp="$SUMMARY.tmp" i env=null
    if [ -s "$WORK/env.json" ] && [ "$(head -c1 "$WORK/env.json")" = "{" ]; then env=$(cat "$WORK/env.json"); fi
    {
        printf '{\n  "script": "bench/gpu_check.sh",\n  "status": %s,\n' "$(json_str "$STATUS")"
        printf '  "started": %s,\n  "updated": %s,\n' "$(json_str "$START_ISO")" "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
        printf '  "total_budget_s": %s,\n  "elapsed_s": %s,\n' "$TOTAL_S" "$(( $(date +%s) - START_S ))"
        printf '  "python": %s,\n  "install_mode": %s,\n' "$(json_str "$PY")" "$(json_str "$INSTALL_MODE")"
        printf '  "gpu": %s,\n' "$( [ -n "$GPU_NAME" ] && json_str "$GPU_NAME" || echo null)"
        printf '  "environment": %s,\n  "parts": [' "$env"
        for i in "${!P_NAME[@]}"; do
            [ "$i" = 0 ] || printf ','
            printf '\n    {"part": %s, "command": %s, "budget_s": %s, "log": %s, "status": %s, ' \
                "$(json_str "${P_NAME[$i]}")" "$(json_str "${P_CMD[$i]}")" "${P_BUDGET[$i]}" \
                "$(json_str "${P_LOG[$i]}")" "$(json_str "${P_STATUS[$i]}")"
            printf '"exit_code": %s, "seconds": %s, "timed_out": %s, "note": %s}' "$(json_or_null "${P_RC[$i]}")" \
                "$(json_or_null "${P_SECONDS[$i]}")" "${P_TIMED_OUT[$i]}" "$(json_str "${P_NOTE[$i]}")"
        done
        printf '\n  ]\n}\n'
    } > "$tmp" && mv -f "$tmp" "$SUMMARY"
}

add_part() {  # add_part NAME BUDGET LOG COMMAND STATUS [NOTE]; echoes nothing, sets IDX
    IDX=${#P_NAME[@]}
    P_NAME+=("$1") P_BUDGET+=("$2") P_LOG+=("$3") P_CMD+=("$4") P_STATUS+=("$5") P_RC+=("")
    P_SECONDS+=("") P_TIMED_OUT+=(false) P_NOTE+=("${6:-}")
}

skip_part() {  # skip_part NAME BUDGET LOG COMMAND REASON
    add_part "$1" "$2" "$3" "$4" skipped "$5"
    echo "gpu_check: [$1] skipped: $5" | tee -a "$OUTDIR/$3"
    EXIT_STATUS=1
    write_summary
}

# run_part NAME BUDGET LOG COMMAND: the command under timeout (SIGINT at the budget, SIGKILL 5 s later),
# its output appended to OUTDIR/LOG and to stdout; returns its exit status (124/137: timed out)
run_part() {
    local name=$1 want=$2 log=$3 cmd=$4 left budget t0 rc fd teepid i
    left=$((DEADLINE - $(date +%s) - 5))
    budget=$(( want < left ? want : left ))
    if [ "$left" -lt 5 ]; then
        skip_part "$name" "$want" "$log" "$cmd" "no time left of the total budget (${TOTAL_S} s)"
        return 125
    fi
    add_part "$name" "$budget" "$log" "$cmd" running
    CURRENT=$IDX
    write_summary
    printf '\n===== [%s] budget %s s: %s\n' "$name" "$budget" "$cmd" | tee -a "$OUTDIR/$log"
    t0=$(now) PART_T0=$t0
    exec {fd}> >(trap '' INT TERM HUP; exec tee -a "$OUTDIR/$log")  # outlives a signal: the part's last words
    teepid=$!
    timeout -s INT -k 5 "$budget" bash -c "$cmd" >&"$fd" 2>&1 {fd}>&- &
    TPID=$!
    wait "$TPID"
    rc=$?
    TPID=""
    exec {fd}>&-
    for i in $(seq 30); do kill -0 "$teepid" 2>/dev/null || break; sleep 0.1; done
    P_RC[$IDX]=$rc
    P_SECONDS[$IDX]=$(elapsed "$t0")
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        P_TIMED_OUT[$IDX]=true P_STATUS[$IDX]=timed_out EXIT_STATUS=1
    elif [ "$rc" = 0 ]; then
        P_STATUS[$IDX]=ok
    else
        P_STATUS[$IDX]=failed EXIT_STATUS=1
    fi
    echo "===== [$name] ${P_STATUS[$IDX]} (exit $rc, ${P_SECONDS[$IDX]} s of $budget)" | tee -a "$OUTDIR/$log"
    CURRENT=""
    write_summary
    return "$rc"
}

on_signal() {  # keep what has run: stop the running part, mark it, write the summary
    local sig=$1 code=$2 i
    trap '' INT TERM HUP
    echo "gpu_check: got SIG$sig; stopping" >&2
    if [ -n "$TPID" ]; then
        kill -INT "$TPID" 2>/dev/null  # timeout passes it on: pytest still writes its junit XML
        for i in $(seq 50); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$TPID" 2>/dev/null; kill -KILL "$TPID" 2>/dev/null
    fi
    if [ -n "$CURRENT" ]; then
        P_STATUS[$CURRENT]=interrupted P_RC[$CURRENT]=$code P_SECONDS[$CURRENT]=$(elapsed "$PART_T0")
    fi
    STATUS="interrupted by SIG$sig"
    write_summary
    rm -rf "$WORK"
    exit "$code"
}
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM
trap 'on_signal HUP 129' HUP

copy_results() {  # copy_results PREFIX: bench/results/PREFIX-*.json written since $WORK/PREFIX.start
    local f
    for f in $(find bench/results -maxdepth 1 -name "$1-*.json" -newer "$WORK/$1.start" 2>/dev/null); do
        cp -f "$f" "$OUTDIR/" && echo "gpu_check: copied $f to $OUTDIR/" | tee -a "$OUTDIR/$1.log"
    done
}

# ------------------------------------------------------------------------------------------- parts

echo "gpu_check: OUTDIR=$OUTDIR, PY=$PY, total budget ${TOTAL_S} s, started $START_ISO"
write_summary

run_part env "$(budget ENV 20)" setup.log "$ENV_CMD"

if run_part install "$(budget INSTALL 45)" setup.log "$PIP_CMD"; then INSTALL_MODE=editable; fi
run_part import "$(budget IMPORT 20)" setup.log "$IMPORT_CMD"
rc=$?
if [ "$rc" = 0 ]; then
    [ "$INSTALL_MODE" = editable ] || INSTALL_MODE="already importable (pip install failed)"
elif [ "$rc" = 125 ]; then
    INSTALL_MODE="not checked (no time left)"
else
    echo "gpu_check: minigen does not import after 'pip install -e .'; trying a PYTHONPATH shim" | tee -a "$OUTDIR/setup.log"
    mkdir -p "$WORK/shim" && printf '%s' "$SHIM_PY" > "$WORK/shim/sitecustomize.py"
    export PYTHONPATH="$WORK/shim:$REPO${PYTHONPATH:+:$PYTHONPATH}" MINIGEN_SHIM_REPO="$REPO"
    if run_part import-shim "$(budget IMPORT 20)" setup.log "$IMPORT_CMD"; then
        INSTALL_MODE="pythonpath shim (pip install -e . failed: see setup.log)"
    else
        INSTALL_MODE="failed: minigen does not import (see setup.log)"
    fi
    write_summary
fi

run_part device "$(budget DEVICE 30)" setup.log "$DEVICE_CMD"
if [ -s "$WORK/gpu_name" ]; then
    GPU_NAME=$(cat "$WORK/gpu_name")
    write_summary
    : > "$WORK/kernels.start"
    run_part kernels "$(budget KERNELS 90)" kernels.log "$KERNELS_CMD"
    copy_results kernels
    : > "$WORK/train_step.start"
    run_part train_step "$(budget TRAIN_STEP 120)" train_step.log "$TRAIN_STEP_CMD"
    copy_results train_step
    timeout_opt=""
    if "$PY" -c "import pytest_timeout" 2>/dev/null; then timeout_opt=$PYTEST_TIMEOUT_OPT; fi
    run_part gpu_tests "$(budget GPU_TESTS 200)" gpu_tests.log "$(pytest_cmd "$timeout_opt")"
else
    reason="no CUDA device confirmed by the device part (see setup.log): on this machine pytest would run the gpu tests on the fake CuPy"
    echo "gpu_check: $reason" >&2
    skip_part kernels "$(budget KERNELS 90)" kernels.log "$KERNELS_CMD" "$reason"
    skip_part train_step "$(budget TRAIN_STEP 120)" train_step.log "$TRAIN_STEP_CMD" "$reason"
    skip_part gpu_tests "$(budget GPU_TESTS 200)" gpu_tests.log "$(pytest_cmd "$PYTEST_TIMEOUT_OPT")" "$reason"
fi

STATUS=done
write_summary
rm -rf "$WORK"
echo
echo "gpu_check: done in $(( $(date +%s) - START_S )) s; install: $INSTALL_MODE; gpu: ${GPU_NAME:-none}"
for i in "${!P_NAME[@]}"; do
    printf '  %-11s %-10s exit %-4s %6s s  %s\n' "${P_NAME[$i]}" "${P_STATUS[$i]}" "${P_RC[$i]:--}" \
        "${P_SECONDS[$i]:--}" "${P_NOTE[$i]}"
done
echo "gpu_check: summary in $SUMMARY"
exit "$EXIT_STATUS"
