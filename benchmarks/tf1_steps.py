"""Median milliseconds per training step of each examples/tf1 program, nanotf against TensorFlow 2.21 compat.v1.

    .venv/bin/python benchmarks/tf1_steps.py                        # every program, 1 round
    .venv/bin/python benchmarks/tf1_steps.py --rounds 3 cnn_layers_mnist gan_mnist

benchmarks/tf1_programs.py times whole processes (start-up, graph building, evaluation included); this one
times only the training steps, in steady state. Each program runs unchanged in a process of its framework
(examples/tf1/_framework.py: NANOTF_BENCH_FRAMEWORK), started by this script in child mode, which wraps the
framework's `Session.run` with a timer before running the program. The program's training runs are the
`Session.run` signatures (fetched names and fed names) that fetch an Operation (a train op) and recur at
least half as often as the most frequent such signature: the train op of a plain program, both train ops of
a GAN. The first 20% of each signature's runs (at least 3: compilation, caches) are warm-up; a step is the
sum over those signatures of the median run time, weighted by how often each runs per step. Batches are
made by the program's own Python code on both frameworks and are not timed.

A round runs every program once per framework, in turn; the table gives the median over the rounds.
Real MNIST is used where examples/tf1/_mnist_arrays finds it, else fake data (said in the table).
TensorFlow runs from benchmarks/.venvs/tf (benchmarks/setup_peers.sh tf). Results go to
results/tf1_steps.{md,json}.
"""
import json
import os
import runpy
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROGRAMS_DIR = os.path.join(ROOT, 'examples', 'tf1')
RESULT_PREFIX = 'TF1_STEPS '
WARMUP_FRACTION, MIN_WARMUP = 0.2, 3

# program -> arguments: enough training runs for a steady median, short enough for both frameworks
PROGRAMS = {
    'gan_mnist': ['--steps', '200'],
    'dcgan_mnist': ['--steps', '20'],
    'vae_mnist': ['--steps', '200'],
    'autoencoder_mnist': ['--steps', '200'],
    'cnn_layers_mnist': ['--steps', '30'],
    'multigpu_mnist': ['--steps', '100'],
    'lstm_mnist': ['--steps', '50'],
    'lstm_mnist_dynamic': ['--steps', '50'],
    'bidirectional_lstm_mnist': ['--steps', '30'],
    'gru_dynamic_length': ['--steps', '100'],
    'while_loop_rnn_mnist': ['--steps', '50'],
    'data_pipeline_mlp': ['--steps', '300'],
    'kmeans_mnist': ['--steps', '20'],
    'random_forest_mnist': ['--steps', '50'],
    'word2vec_nce': ['--steps', '500'],
}


# -- child mode: one program on one framework, its Session.run calls timed
def _flat_names(x, out):
    """Names of the graph elements in a fetch structure (lists, tuples, dicts), in order."""
    if isinstance(x, dict):
        for k in sorted(x, key=str):
            _flat_names(x[k], out)
    elif isinstance(x, (list, tuple)):
        for e in x:
            _flat_names(e, out)
    else:
        out.append(getattr(x, 'name', str(x)))
    return out


def _fetches_an_operation(x, operation_type):
    if isinstance(x, dict):
        return any(_fetches_an_operation(v, operation_type) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_fetches_an_operation(e, operation_type) for e in x)
    return isinstance(x, operation_type)


def _session_class_with_run(session_type):
    return next(c for c in session_type.__mro__ if 'run' in vars(c))


class _LastLine:
    """A stdout that keeps only the last non-empty line written (the program's metric)."""

    def __init__(self):
        self.last, self._part = '', ''

    def write(self, text):
        lines = (self._part + text).split('\n')
        self._part = lines[-1]
        done = [line for line in lines[:-1] if line.strip()]
        if done:
            self.last = done[-1]
        if self._part.strip():
            self.last = self._part
        return len(text)

    def flush(self):
        pass


def child(program, argv):
    """Runs examples/tf1/<program>.py with `argv`, then prints one line: every timed run signature."""
    sys.path.insert(0, PROGRAMS_DIR)
    from _framework import tf   # the framework NANOTF_BENCH_FRAMEWORK names
    base = _session_class_with_run(tf.Session)
    original = base.run
    calls = {}    # signature -> [train op fetched?, [seconds, ...]]

    def timed_run(self, fetches, feed_dict=None, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original(self, fetches, feed_dict, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            key = (tuple(_flat_names(fetches, [])), tuple(sorted(getattr(k, 'name', str(k)) for k in feed_dict or ())))
            entry = calls.get(key)
            if entry is None:
                entry = calls[key] = [_fetches_an_operation(fetches, tf.Operation), []]
            entry[1].append(elapsed)

    base.run = timed_run
    sys.argv = [os.path.join(PROGRAMS_DIR, program + '.py')] + argv
    out, sys.stdout = sys.stdout, _LastLine()   # the program's own output: only its last line is kept
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        last, sys.stdout = sys.stdout.last, out
    runs = [{'fetches': list(k[0]), 'feeds': list(k[1]), 'train_op': v[0], 'seconds': v[1]} for k, v in calls.items()]
    print(RESULT_PREFIX + json.dumps({'runs': runs, 'last_line': last}))


# -- parent: which runs are training steps, and their time
def training_signatures(runs):
    """[(run, runs of it per step, warm-up runs)] for a child's training signatures (see the module doc): those
    fetching an Operation that recur at least half as often as the most frequent of them."""
    train = [r for r in runs if r['train_op']]
    most = max((len(r['seconds']) for r in train), default=0)
    return [(r, len(r['seconds']) / most, max(MIN_WARMUP, int(len(r['seconds']) * WARMUP_FRACTION)))
            for r in train if len(r['seconds']) * 2 >= most]


def step_ms(runs):
    """(median ms per step, number of timed steps) from a child's run signatures (see the module doc)."""
    signatures = training_signatures(runs)
    if not signatures:
        return None, 0
    total, steps = 0.0, None
    for r, per_step, warm in signatures:
        timed = r['seconds'][warm:] or r['seconds'][-1:]
        total += statistics.median(timed) * 1000.0 * per_step
        steps = len(timed) if steps is None else min(steps, len(timed))
    return total, steps


def round_ratios(program_runs):
    """nanotf / TensorFlow within each round, where the two ran back to back: on a machine whose speed drifts
    from minute to minute these say more than the ratio of the medians, which may pair different minutes."""
    pairs = zip(program_runs.get('nanotf', ()), program_runs.get('tensorflow', ()))
    return ', '.join('%.2f' % (a['ms'] / b['ms']) if a['ms'] and b['ms'] else 'n/a' for a, b in pairs) or 'n/a'


def run_once(framework, program, data_dir):
    from tf1_programs import failure, run_program
    out = run_program(framework, [os.path.abspath(__file__), '--child', program, '--'], PROGRAMS[program], data_dir)
    lines = [line for line in out.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if out.returncode != 0 or not lines:
        return {'ms': None, 'steps': 0, 'last_line': failure(out)}
    res = json.loads(lines[-1][len(RESULT_PREFIX):])
    ms, steps = step_ms(res['runs'])
    return {'ms': ms, 'steps': steps, 'last_line': res['last_line'],
            'train_runs': [r['fetches'] for r in res['runs'] if r['train_op'] and len(r['seconds']) > 1]}


def main():
    if len(sys.argv) > 2 and sys.argv[1] == '--child':
        return child(sys.argv[2], sys.argv[4:])
    sys.path.insert(0, HERE)
    import results          # results/*.md and .json
    from tf1_programs import cells, find_mnist, frameworks, medians, parse_args, run_rounds
    args, names = parse_args(__doc__, PROGRAMS, 1, 'tf1_steps')
    data_dir = None if args.fake_data else find_mnist()
    runs = run_rounds(args.rounds, names, frameworks(), lambda f, n: run_once(f, n, data_dir),
                      lambda res: '%8.2f ms/step (%d timed)' % (res['ms'], res['steps'])
                      if res['ms'] is not None else '  failed')
    lines = ['| program | args | nanotf ms/step | TensorFlow ms/step | nanotf / TF | each round\'s nanotf / TF '
             '| timed steps (nanotf, TF) |',
             '|---|---|---|---|---|---|---|']
    summary = {}
    for n in names:
        summary[n] = med = medians(runs[n], 'ms')
        timed = ', '.join(str(rs[-1]['steps']) for rs in runs[n].values())
        lines.append('| %s | `%s` | %s | %s | %s | %s | %s |' % ((n, ' '.join(PROGRAMS[n])) + cells(med)
                                                             + (round_ratios(runs[n]), timed)))
    machine = results.machine()
    table = '\n'.join(lines)
    print(table)
    fake = data_dir is None
    results.write(args.out, '# TF 1.x-style programs, training step only: nanotf against TensorFlow 2.21 compat.v1\n\n'
                  'Made by `benchmarks/tf1_steps.py --rounds %d` on %s, %s data; median ms per training step in '
                  'steady state (the train ops\' `Session.run` calls only; start-up, graph building, batching and '
                  'evaluation excluded), median of the rounds; the two frameworks run back to back in each round, '
                  'taking turns going first. `timed steps`: steps after warm-up in the last round.\n\n%s\n' % (args.rounds, machine, 'fake' if fake else 'real MNIST', table),
                  {'rounds': args.rounds, 'fake_data': fake, 'machine': machine, 'summary': summary, 'runs': runs})


if __name__ == '__main__':
    main()
