"""The TF 1.x-style example programs (examples/tf1/) on nanotf and on TensorFlow 2.21 compat.v1, alternated.

    .venv/bin/python benchmarks/tf1_programs.py                       # every program, 3 rounds
    .venv/bin/python benchmarks/tf1_programs.py --rounds 1 gan_mnist  # one program, once
    .venv/bin/python benchmarks/tf1_programs.py --contention 1        # beside one busy process

Each program runs unchanged on both frameworks: examples/tf1/_framework.py imports nanotf, or
`tensorflow.compat.v1` when NANOTF_BENCH_FRAMEWORK=tensorflow. A round runs every program once per
framework, in turn, so that the machine's slow drifts hit both alike; the table gives the median
whole-process wall time over the rounds (start-up included: a user waits for it too), the ratio
nanotf / TensorFlow, and each run's last printed line (its metric), so a fast run that learned
nothing shows. Real MNIST is used where `_mnist_arrays` finds it, else fake data (said in the
table). TensorFlow runs from benchmarks/.venvs/tf (benchmarks/setup_peers.sh tf).
Results go to results/tf1_programs.{md,json}.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS_DIR = os.path.join(ROOT, 'examples', 'tf1')
TF_PYTHON = os.path.join(HERE, '.venvs', 'tf', 'bin', 'python')
sys.path.insert(0, HERE)
import contention  # noqa: E402  (busy neighbours)
import results  # noqa: E402  (results/*.md and .json)
sys.path.insert(0, PROGRAMS_DIR)
import _mnist_arrays  # noqa: E402  (where MNIST is)

# program -> arguments for a run long enough that training, not start-up, dominates on TF
PROGRAMS = {
    'gan_mnist': ['--steps', '1000'],
    'dcgan_mnist': ['--steps', '50'],
    'vae_mnist': ['--steps', '1000'],
    'autoencoder_mnist': ['--steps', '1000'],
    'cnn_layers_mnist': ['--steps', '100'],
    'multigpu_mnist': ['--steps', '300'],
    'lstm_mnist': ['--steps', '200'],
    'lstm_mnist_dynamic': ['--steps', '200'],
    'bidirectional_lstm_mnist': ['--steps', '100'],
    'gru_dynamic_length': ['--steps', '300'],
    'while_loop_rnn_mnist': ['--steps', '200'],
    'data_pipeline_mlp': ['--steps', '1000'],
    'kmeans_mnist': ['--steps', '20'],
    'random_forest_mnist': ['--steps', '100'],
    'word2vec_nce': ['--steps', '3000'],
}


def find_mnist():
    """A folder holding the four gzipped MNIST files: $NANOTF_DATA_DIR/mnist, ~/.cache/nanotf/mnist, ../shared."""
    found = _mnist_arrays.find_data_dir(_mnist_arrays.candidate_dirs()
                                        + [os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'mnist')])
    return str(found) if found else None


def frameworks():
    """['nanotf', 'tensorflow'], or ['nanotf'] (and a line saying so) where benchmarks/.venvs/tf is missing."""
    if os.path.exists(TF_PYTHON):
        return ['nanotf', 'tensorflow']
    print('TensorFlow column skipped: %s not found (run benchmarks/setup_peers.sh tf)' % TF_PYTHON)
    return ['nanotf']


def program_command(framework, script_argv, program_args, data_dir):
    """(argv, env) that run `script_argv` (a script and its own arguments), then `program_args` and the data
    flag, with `framework`'s Python and environment (run it in PROGRAMS_DIR)."""
    # TF_USE_LEGACY_KERAS: TF 2.21's compat.v1 tf.layers and rnn cells need tf-keras (Keras 2), see setup_peers.sh
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', TF_USE_LEGACY_KERAS='1', NANOTF_BENCH_FRAMEWORK=framework)
    python = TF_PYTHON if framework == 'tensorflow' else sys.executable
    data = ['--data_dir', data_dir] if data_dir else ['--fake_data']
    return [python] + script_argv + program_args + data, env


def run_program(framework, script_argv, program_args, data_dir):
    """Runs program_command(...) in examples/tf1/; the subprocess.CompletedProcess."""
    argv, env = program_command(framework, script_argv, program_args, data_dir)
    return subprocess.run(argv, env=env, capture_output=True, text=True, cwd=PROGRAMS_DIR)


def failure(out):
    """'FAILED rc=N: <the last line of its stderr, else stdout>' for a failed run."""
    tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ['(no output)']
    return 'FAILED rc=%d: %s' % (out.returncode, tail[0][:120])


def parse_args(doc, programs, rounds, out_name, extra_flags=lambda p: None):
    """(flags, program names) from the command line shared by the tf1 benchmarks: program names, --rounds,
    --fake_data, --out; `extra_flags(parser)` adds a script's own."""
    p = argparse.ArgumentParser(description=doc.split('\n')[0])
    p.add_argument('programs', nargs='*', help='program names (default: all)')
    p.add_argument('--rounds', type=int, default=rounds)
    p.add_argument('--fake_data', action='store_true', help='fake data even where real MNIST is present')
    extra_flags(p)
    p.add_argument('--out', default=os.path.join(HERE, 'results', out_name))
    args = p.parse_args()
    names = args.programs or list(programs)
    unknown = [n for n in names if n not in programs]
    if unknown:
        p.error('unknown program(s): %s (known: %s)' % (', '.join(unknown), ', '.join(programs)))
    return args, names


def run_rounds(rounds, names, frameworks, run_once, show):
    """{program: {framework: [run_once(framework, program), ...]}}: each round runs every program once per
    framework, back to back, printing each run's show(result) and last line. The frameworks take turns going
    first (round 2 reverses round 1's order), so neither always meets the machine as the other left it."""
    runs = {n: {f: [] for f in frameworks} for n in names}
    for r in range(rounds):
        order = list(frameworks) if r % 2 == 0 else list(frameworks)[::-1]
        for n in names:
            for f in order:
                res = run_once(f, n)
                runs[n][f].append(res)
                print('round %d  %-26s %-10s %s  %s' % (r + 1, n, f, show(res), res['last_line']), flush=True)
    return runs


def medians(program_runs, key):
    """{framework: median of the runs' `key`}, None for a framework where a run failed (its `key` is None)."""
    med = {}
    for f, rs in program_runs.items():
        values = [x[key] for x in rs if x[key] is not None]
        med[f] = statistics.median(values) if values and len(values) == len(rs) else None
    return med


def cells(med):
    """The table's nanotf, TensorFlow and nanotf / TF cells for `medians`' result."""
    cell = lambda f: '%.2f' % med[f] if med.get(f) else ('failed' if f in med else 'n/a')  # noqa: E731
    ratio = '%.2f' % (med['nanotf'] / med['tensorflow']) if med.get('tensorflow') and med.get('nanotf') else 'n/a'
    return cell('nanotf'), cell('tensorflow'), ratio


def run_once(framework, program, data_dir):
    t0 = time.perf_counter()
    out = run_program(framework, [os.path.join(PROGRAMS_DIR, program + '.py')], PROGRAMS[program], data_dir)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        return {'wall_s': None, 'last_line': failure(out)}
    lines = out.stdout.strip().splitlines()
    return {'wall_s': wall, 'last_line': lines[-1] if lines else ''}


def main():
    args, names = parse_args(__doc__, PROGRAMS, 3, 'tf1_programs', lambda p: p.add_argument(
        '--contention', type=int, default=0, metavar='N',
        help='run N busy processes beside the programs (bounded; stopped at the end)'))
    data_dir = None if args.fake_data else find_mnist()
    fake = data_dir is None
    with contention.busy(args.contention, 4 * 3600):
        runs = run_rounds(args.rounds, names, frameworks(), lambda f, n: run_once(f, n, data_dir),
                          lambda res: '%7.2f s' % res['wall_s'] if res['wall_s'] is not None else '  failed')
    lines = ['| program | args | nanotf s | TensorFlow s | nanotf / TF | nanotf last line | TF last line |',
             '|---|---|---|---|---|---|---|']
    summary = {}
    for n in names:
        summary[n] = med = medians(runs[n], 'wall_s')
        last = lambda f: runs[n][f][-1]['last_line'] if f in runs[n] else ''  # noqa: E731
        lines.append('| %s | `%s` | %s | %s | %s | %s | %s |' % ((n, ' '.join(PROGRAMS[n])) + cells(med)
                                                            + (last('nanotf'), last('tensorflow'))))
    machine = results.machine()
    table = '\n'.join(lines)
    print(table)
    results.write(args.out, '# TF 1.x-style programs: nanotf against TensorFlow 2.21 compat.v1\n\n'
                  'Made by `benchmarks/tf1_programs.py --rounds %d%s` on %s, %s data; whole-process wall time, '
                  'median of the rounds.\n\n%s\n' % (args.rounds, ' --contention %d' % args.contention
                                                     if args.contention else '', machine,
                                                     'fake' if fake else 'real MNIST', table),
                  {'rounds': args.rounds, 'contention': args.contention, 'fake_data': fake, 'machine': machine,
                   'summary': summary, 'runs': runs})


if __name__ == '__main__':
    main()
