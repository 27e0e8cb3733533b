"""Deep MNIST training step: nanotf against TensorFlow, alternated, with the ratio.

    .venv/bin/python benchmarks/deep_mnist.py                 # 5 rounds of 100 steps
    .venv/bin/python benchmarks/deep_mnist.py --rounds 1 --steps 20   # smoke

Each round runs `programs/deep_mnist_step.py` once per variant, in turn (nanotf, TF, nanotf
without its intra-op pool, ...), so that the machine's slow drifts hit every variant alike.
A run reports the median ms of `--steps` timed steps after 5 warm-up steps; the table gives,
per variant, the median over the rounds of those medians, the best round, and the ratio to
TensorFlow. TensorFlow runs from benchmarks/.venvs/tf (see setup_peers.sh); without it the TF
column is skipped with a message. Results go to results/deep_mnist_step.{md,json}.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STEP = os.path.join(HERE, 'programs', 'deep_mnist_step.py')
TF_PYTHON = os.path.join(HERE, '.venvs', 'tf', 'bin', 'python')

# name -> (interpreter, extra args, extra environment)
VARIANTS = {
    'nanotf': (sys.executable, [], {}),
    'tensorflow': (TF_PYTHON, ['--framework', 'tf'], {'TF_CPP_MIN_LOG_LEVEL': '2'}),
    # the same nanotf asked for one thread: no intra-op pool, and BLAS capped at one thread too
    'nanotf, NANOTF_NUM_THREADS=1': (sys.executable, [], {'NANOTF_NUM_THREADS': '1'}),
}


def run_once(python, args, env, steps):
    env = dict(os.environ, **env)
    for key in [k for k in env if k.startswith('OPENBLAS')]:
        del env[key]       # the issue's condition: OpenBLAS variables unset
    out = subprocess.run([python, STEP, '--steps', str(steps)] + args, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--steps', type=int, default=100)
    p.add_argument('--out', default=os.path.join(HERE, 'results', 'deep_mnist_step'))
    args = p.parse_args()
    variants = dict(VARIANTS)
    if not os.path.exists(TF_PYTHON):
        print('TensorFlow column skipped: %s not found (run benchmarks/setup_peers.sh tf)' % TF_PYTHON)
        del variants['tensorflow']
    runs = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, (python, extra, env) in variants.items():
            res = run_once(python, extra, env, args.steps)
            runs[name].append(res)
            print('round %d  %-30s median %.2f ms (min %.2f)' % (r + 1, name, res['median_ms'], res['min_ms']),
                  flush=True)
    summary = {name: {'median_ms': statistics.median(x['median_ms'] for x in rs),
                      'best_round_ms': min(x['median_ms'] for x in rs)} for name, rs in runs.items()}
    base = summary.get('tensorflow')
    lines = ['| variant | ms/step (median of %d rounds) | best round | / TensorFlow |' % args.rounds,
             '|---|---|---|---|']
    for name, s in summary.items():
        ratio = '%.2f' % (s['median_ms'] / base['median_ms']) if base else 'n/a'
        lines.append('| %s | %.1f | %.1f | %s |' % (name, s['median_ms'], s['best_round_ms'], ratio))
    machine = '%s, %d CPUs, Python %s' % (platform.processor() or platform.machine(), os.cpu_count(),
                                         platform.python_version())
    table = '\n'.join(lines)
    print(table)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + '.md', 'w') as f:
        f.write('# Deep MNIST training step (batch 50, Adam), OpenBLAS variables unset\n\n'
                'Made by `benchmarks/deep_mnist.py --rounds %d --steps %d` on %s.\n\n%s\n'
                % (args.rounds, args.steps, machine, table))
    with open(args.out + '.json', 'w') as f:
        json.dump({'rounds': args.rounds, 'steps': args.steps, 'machine': machine, 'summary': summary,
                   'runs': runs}, f, indent=1)


if __name__ == '__main__':
    main()
