#!/usr/bin/env bash
# The XLA backend on a GPU machine, in one pass that fits a short lease (about 8 minutes on an H200; at most 10):
#   1. the machine: JAX's version and devices, the GPU;
#   2. the XLA backend's tests (session, control flow, every op's lowering against its NumPy kernel);
#   3. the tutorial (fully_connected_feed, 2000 steps) with --xla on real MNIST when $NANOTF_DATA_DIR/mnist holds
#      it, else fake data;
#   4. every examples/tf1 program's training steps on the XLA backend (benchmarks/tf1_steps.py, one round).
# Everything goes to $OUT (default /tmp/gpu_check): devices.txt, tests.txt, tutorial.txt, tf1_steps_xla_gpu.{md,json}.
# Results of 2026-12-04 (NVIDIA H200): benchmarks/results/xla_gpu_h200.md.
#
#     OUT=/tmp/gpu_check PY=python3 bash benchmarks/gpu_check.sh
#
# Needs numpy, jax with a GPU plugin, tensorboard, safetensors, threadpoolctl, six and pytest in $PY's
# environment; runs nanotf from this checkout (PYTHONPATH), installing nothing.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1

{ date -u; "$PY" -c "import sys, jax, numpy; print(sys.version.split()[0], 'jax', jax.__version__, 'numpy', numpy.__version__); print(jax.devices())"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3; } 2>&1 | tee "$OUT/devices.txt"

# 2. tests (the ones that start processes of their own or force CPU devices are left to CI); their Sessions on
#    the XLA backend run on JAX's default device, the GPU
timeout 180 "$PY" -m pytest -q -p no:cacheprovider -rfE tests/test_xla_session.py tests/test_xla_control_flow.py \
    tests/test_xla_ops.py 2>&1 | tee "$OUT/tests.txt" | tail -25

# 3. the tutorial, whole: its Session on the GPU, its evaluations' precision
data=()
if [ -d "${NANOTF_DATA_DIR:-/nonexistent}/mnist" ]; then data=(--input_data_dir "$NANOTF_DATA_DIR/mnist"); else data=(--fake_data); fi
timeout 90 "$PY" -m nanotf.examples.tutorials.mnist.fully_connected_feed --xla --seed 1 --log_dir /tmp/gpu_check_runs \
    "${data[@]}" 2>&1 | tee "$OUT/tutorial.txt" | tail -12

# 4. the TF1 programs' training steps on the GPU (TensorFlow's column is skipped: no TensorFlow there)
NANOTF_XLA=1 timeout 330 "$PY" benchmarks/tf1_steps.py --rounds 1 --out "$OUT/tf1_steps_xla_gpu" 2>&1 | tail -22
