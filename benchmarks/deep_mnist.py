"""Deep MNIST training step: nanotf against TensorFlow and JAX, alternated, with the ratios.

    .venv/bin/python benchmarks/deep_mnist.py                 # 5 rounds of 100 steps
    .venv/bin/python benchmarks/deep_mnist.py --rounds 1 --steps 20   # smoke
    .venv/bin/python benchmarks/deep_mnist.py --contention 1  # also beside 1 busy process
    .venv/bin/python benchmarks/deep_mnist.py --variants nanotf-xla jax --out benchmarks/results/deep_mnist_step-xla

Each round runs each variant's program once, in turn (nanotf on NumPy, TF, nanotf without its intra-op pool,
nanotf on its XLA backend, the step written by hand in JAX: `programs/deep_mnist_step.py`, `--xla`, and
`programs/jax_deep_mnist_step.py`), so that the machine's slow drifts hit every variant alike.
A run reports the median ms of `--steps` timed steps after 5 warm-up steps; the table gives,
per variant, the median over the rounds of those medians, the best round, and the ratios to
TensorFlow and to hand-written JAX (the same jax for both JAX variants: this interpreter's). TensorFlow runs from benchmarks/.venvs/tf (see setup_peers.sh); without it the TF
column is skipped with a message. With --contention N each variant also runs beside N CPU-bound
processes (contention.py), right after its quiet run. Results go to
results/deep_mnist_step.{md,json} (deep_mnist_step-contention<N> with --contention).
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import contention  # noqa: E402  (busy neighbours)
import results  # noqa: E402  (results/*.md and .json)
STEP = os.path.join(HERE, 'programs', 'deep_mnist_step.py')
JAX_STEP = os.path.join(HERE, 'programs', 'jax_deep_mnist_step.py')
TF_PYTHON = os.path.join(HERE, '.venvs', 'tf', 'bin', 'python')

# name -> (interpreter, program, extra args, extra environment)
VARIANTS = {
    'nanotf': (sys.executable, STEP, [], {}),
    'tensorflow': (TF_PYTHON, STEP, ['--framework', 'tf'], {'TF_CPP_MIN_LOG_LEVEL': '2'}),
    # the same nanotf asked for one thread: no intra-op pool, and BLAS capped at one thread too
    'nanotf, NANOTF_NUM_THREADS=1': (sys.executable, STEP, [], {'NANOTF_NUM_THREADS': '1'}),
    'nanotf-xla': (sys.executable, STEP, ['--xla'], {}),
    'jax': (sys.executable, JAX_STEP, [], {}),
}


def run_once(python, program, args, env, steps, busy=0):
    env = dict(os.environ, **env)
    for key in [k for k in env if k.startswith('OPENBLAS')]:
        del env[key]       # the issue's condition: OpenBLAS variables unset
    with contention.busy(busy, 900):
        out = subprocess.run([python, program, '--steps', str(steps)] + args, env=env, capture_output=True,
                             text=True, check=True, timeout=900)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--steps', type=int, default=100)
    p.add_argument('--contention', type=int, default=0, metavar='N',
                   help='also run each variant beside N busy processes')
    p.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS),
                   help='which variants to run (default: all)')
    p.add_argument('--out', default=None)
    args = p.parse_args()
    if args.out is None:
        args.out = os.path.join(HERE, 'results', 'deep_mnist_step' +
                                ('-contention%d' % args.contention if args.contention else ''))
    loads = [0, args.contention] if args.contention else [0]
    variants = {name: VARIANTS[name] for name in args.variants}
    if 'jax' in variants or 'nanotf-xla' in variants:
        if importlib.util.find_spec('jax') is None:
            print('JAX columns skipped: jax is not installed for %s (pip install .[xla])' % sys.executable)
            variants.pop('jax', None)
            variants.pop('nanotf-xla', None)
    if 'tensorflow' in variants and not os.path.exists(TF_PYTHON):
        print('TensorFlow column skipped: %s not found (run benchmarks/setup_peers.sh tf)' % TF_PYTHON)
        del variants['tensorflow']
    runs = {(name, busy): [] for name in variants for busy in loads}
    for r in range(args.rounds):
        for name, (python, program, extra, env) in variants.items():
            for busy in loads:
                res = run_once(python, program, extra, env, args.steps, busy)
                runs[name, busy].append(res)
                print('round %d  %-30s %-25s median %.2f ms (min %.2f)' % (
                    r + 1, name, contention.label(busy), res['median_ms'], res['min_ms']), flush=True)
    summary = {key: {'median_ms': statistics.median(x['median_ms'] for x in rs),
                     'best_round_ms': min(x['median_ms'] for x in rs)} for key, rs in runs.items()}
    label = lambda k: k[0] if not args.contention else '%s, %s' % (k[0], contention.label(k[1]))  # noqa: E731
    lines = ['| variant | ms/step (median of %d rounds) | best round | / TensorFlow | / JAX |' % args.rounds,
             '|---|---|---|---|---|']
    for (name, busy), s in summary.items():
        ratios = []
        for ref in ('tensorflow', 'jax'):
            base = summary.get((ref, busy))
            ratios.append('%.2f' % (s['median_ms'] / base['median_ms']) if base else 'n/a')
        lines.append('| %s | %.1f | %.1f | %s | %s |' % (label((name, busy)), s['median_ms'], s['best_round_ms'],
                                                         *ratios))
    if args.contention:
        lines += ['', '| variant | loaded / quiet |', '|---|---|']
        for name in variants:
            q, l = summary[name, 0], summary[name, args.contention]
            lines.append('| %s | %.2f× |' % (name, l['median_ms'] / q['median_ms']))
    machine = results.machine()
    table = '\n'.join(lines)
    print(table)
    results.write(args.out, '# Deep MNIST training step (batch 50, Adam), OpenBLAS variables unset\n\n'
                  'Made by `benchmarks/deep_mnist.py --rounds %d --steps %d%s%s` on %s.\n\n%s\n'
                  % (args.rounds, args.steps, ' --contention %d' % args.contention if args.contention else '',
                     '' if args.variants == list(VARIANTS) else ' --variants ' + ' '.join(
                         "'%s'" % v if ' ' in v else v for v in args.variants),
                     machine, table),
                  {'rounds': args.rounds, 'steps': args.steps, 'contention': args.contention, 'machine': machine,
                   'summary': {label(k): v for k, v in summary.items()},
                   'runs': {label(k): v for k, v in runs.items()}})


if __name__ == '__main__':
    main()
