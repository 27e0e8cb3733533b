#!/usr/bin/env bash
# Creates one virtual environment per peer framework under benchmarks/.venvs/
# (git-ignored), so that TensorFlow, PyTorch and JAX never share (or pollute)
# nanotf's own .venv.  Usage:
#   bash benchmarks/setup_peers.sh            # all peers
#   bash benchmarks/setup_peers.sh tf jax     # only some
# PYTHON picks the interpreter (default: python3); every venv gets numpy,
# threadpoolctl and psutil besides its framework.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venvs="$here/.venvs"
python="${PYTHON:-python3}"
common=(numpy threadpoolctl psutil)

# torch is pinned to the CPU build: an unpinned `torch` resolves to the
# multi-GB CUDA build from PyPI.
declare -A packages=(
  [tf]="tensorflow-cpu==2.21.*"
  [torch]="torch==2.13.0"
  [jax]="jax jaxlib"
)

peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(tf torch jax)

mkdir -p "$venvs"
for peer in "${peers[@]}"; do
  if [ -z "${packages[$peer]+set}" ]; then
    echo "unknown peer '$peer' (expected: ${!packages[*]})" >&2
    exit 2
  fi
  dir="$venvs/$peer"
  echo "== $peer -> $dir"
  [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
  # shellcheck disable=SC2086  # the package list is meant to split
  "$dir/bin/python" -m pip install --quiet "${common[@]}" ${packages[$peer]}
  if [ "$peer" = tf ]; then
    # TF 2.21's compat.v1 tf.layers and rnn cells need Keras 2 (tf-keras, used with TF_USE_LEGACY_KERAS=1);
    # --no-deps: its dependency on the `tensorflow` package would pull a second, GPU build of TensorFlow
    "$dir/bin/python" -m pip install --quiet --no-deps "tf-keras==2.21.*"
  fi
  "$dir/bin/python" -c "import sys; print('  ok:', sys.version.split()[0])"
done
