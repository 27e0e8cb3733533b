"""nanotf against TensorFlow 2.21 compat.v1 per training step, the two frameworks taking turns every fraction of a second.

    .venv/bin/python benchmarks/tf1_lockstep.py                      # every program
    .venv/bin/python benchmarks/tf1_lockstep.py dcgan_mnist vae_mnist

Why: on a VM whose speed drifts by 15-40 % from one minute to the next, runs minutes apart (benchmarks/tf1_steps.py
runs each framework's program whole, one after the other) give ratios that move by as much from one round to the
next. Here each program runs in two processes at once, one per framework (examples/tf1/_framework.py), and only
the process holding the turn may run: its Session.run calls wait for it (programs call Session.run from one
thread; a second thread's run would not wait). After a slice (steps/SLICES runs that fetch an Operation, the same
count on both sides: 1/16 of the steps, 1/32 for a GAN's two train ops) the process hands the turn back to this script, which gives
it to the other. Each pair of neighbouring slices, one per framework, is a ratio measured within about a second;
the table gives the median of those ratios and their quartiles. A program whose quartiles lie on one side of 1 is
settled. `--self_check` runs nanotf against a second nanotf process: the method's own bias (ratios near 1).
With `--peer_env NAME=VALUE` (repeatable) the second process runs with that environment variable set: an A/B of a
nanotf switch in lockstep (e.g. `--self_check --peer_env NANOTF_NUM_THREADS=1`: ratios are default / single-threaded).
With `--nanotf_env NAME=VALUE` (repeatable) the first nanotf process runs with it, against TensorFlow too
(`--nanotf_env NANOTF_XLA=1`: nanotf's XLA backend against TensorFlow).

A process waiting for the turn is blocked in a read (idle); the other process's Python code between its runs
(batches) and its start-up do run meanwhile: the turn starts only once both processes reach their first
Session.run, and a program's own code between runs is small beside a slice. nanotf's busy-machine sampling
restarts with each turn (`_blind_to_the_peer`): the peer's turn would otherwise count as a busy neighbour. Threads a framework starts itself are
not paused, though: TensorFlow's tf.data prefetching keeps working during nanotf's turns (data_pipeline_mlp).
Training runs and warm-up are as in tf1_steps (train-op signatures; the first 20 % of them are dropped). Results
go to results/tf1_lockstep.{md,json}.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tf1_programs  # noqa: E402  (a program's command line, the flags, MNIST)
import tf1_steps  # noqa: E402  (the child's timing helpers, the training signatures)

SLICES = 16
TURN_ENV = 'NANOTF_LOCKSTEP_TURN'   # "<fd the child reads its turn from>,<fd it hands it back on>,<runs per slice>"

# program -> arguments: about 8 s of training runs per framework, ~0.5 s per slice
PROGRAMS = {
    'gan_mnist': ['--steps', '1200'],
    'dcgan_mnist': ['--steps', '150'],
    'vae_mnist': ['--steps', '1200'],
    'autoencoder_mnist': ['--steps', '1200'],
    'cnn_layers_mnist': ['--steps', '150'],
    'multigpu_mnist': ['--steps', '3000'],
    'lstm_mnist': ['--steps', '400'],
    'lstm_mnist_dynamic': ['--steps', '400'],
    'bidirectional_lstm_mnist': ['--steps', '350'],
    'gru_dynamic_length': ['--steps', '1000'],
    'while_loop_rnn_mnist': ['--steps', '300'],
    'data_pipeline_mlp': ['--steps', '2000'],
    'kmeans_mnist': ['--steps', '80'],
    'random_forest_mnist': ['--steps', '300'],
    'word2vec_nce': ['--steps', '12000'],
}


# -- child: the program, its runs waiting for the turn
class _Turn:
    """This process's side of the turn: `take` blocks until the parent hands it over (saying, the first time,
    that this process is ready); `give_back` returns it."""

    def __init__(self, setting, on_take=lambda: None):
        self.read_fd, self.write_fd, self.slice_runs = (int(x) for x in setting.split(','))
        self.held = self.asked = False
        self.on_take = on_take

    def take(self):
        if self.held:
            return
        if not self.asked:
            os.write(self.write_fd, b'W')
            self.asked = True
        if os.read(self.read_fd, 1) != b'G':
            raise SystemExit('lockstep: the benchmark script went away')
        self.held = True
        self.on_take()

    def give_back(self):
        self.held = False
        os.write(self.write_fd, b'R')


def _blind_to_the_peer():
    """nanotf decides as runs begin whether other processes keep the cores busy (parallel._Neighbours: their CPU
    time since its last sample), and on a busy machine it runs BLAS on one thread. The peer's turn, which just
    ended, would count as such a neighbour, which it is not during ours: the sampling restarts with each turn,
    as in a process of its own, and a neighbour really busy during the turn is seen again within 50 ms."""
    parallel = sys.modules.get('nanotf.framework.parallel')
    neighbours = getattr(parallel, '_neighbours', None)
    if neighbours is not None:
        with neighbours.lock:
            neighbours.last, neighbours.busy, neighbours.next_check = None, False, 0.0


def child(program, argv):
    """Runs examples/tf1/<program>.py with `argv` under the turn; prints one line: each run signature's times
    and the slice each run fell in."""
    import runpy
    sys.path.insert(0, tf1_steps.PROGRAMS_DIR)
    from _framework import tf
    turn = _Turn(os.environ[TURN_ENV], _blind_to_the_peer)
    base = tf1_steps._session_class_with_run(tf.Session)
    original = base.run
    calls = {}        # signature -> [train op fetched?, [seconds], [slice index], [start, CLOCK_MONOTONIC]]
    state = {'slice': 0, 'train_runs': 0}

    def run_in_turn(self, fetches, feed_dict=None, *args, **kwargs):
        turn.take()
        began = time.monotonic()     # system-wide on Linux: the parent can check that the turns never overlapped
        start = time.perf_counter()
        try:
            return original(self, fetches, feed_dict, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            key = (tuple(tf1_steps._flat_names(fetches, [])),
                   tuple(sorted(getattr(k, 'name', str(k)) for k in feed_dict or ())))
            entry = calls.get(key)
            if entry is None:
                entry = calls[key] = [tf1_steps._fetches_an_operation(fetches, tf.Operation), [], [], []]
            entry[1].append(elapsed)
            entry[2].append(state['slice'])
            entry[3].append(began)
            if entry[0]:
                state['train_runs'] += 1
                if state['train_runs'] == turn.slice_runs:
                    state['slice'] += 1
                    state['train_runs'] = 0
                    turn.give_back()

    base.run = run_in_turn
    sys.argv = [os.path.join(tf1_steps.PROGRAMS_DIR, program + '.py')] + argv
    out, sys.stdout = sys.stdout, tf1_steps._LastLine()
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        last, sys.stdout = sys.stdout.last, out
    runs = [{'fetches': list(k[0]), 'feeds': list(k[1]), 'train_op': v[0], 'seconds': v[1], 'slices': v[2],
             'starts': v[3]} for k, v in calls.items()]
    print(tf1_steps.RESULT_PREFIX + json.dumps({'runs': runs, 'last_line': last}))


# -- parent: two children, the turn passed between them
def _start(framework, program, data_dir, extra_env=None):
    """(Popen, fd to give the turn on, fd the turn comes back on, output files); `extra_env` is set in its
    environment."""
    framework = framework.split(':')[0]     # 'nanotf:2': a second nanotf process (--self_check)
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    argv, env = tf1_programs.program_command(framework, [os.path.abspath(__file__), '--child', program, '--'],
                                             PROGRAMS[program], data_dir)
    env.update(extra_env or {})
    steps = int(PROGRAMS[program][PROGRAMS[program].index('--steps') + 1])
    env[TURN_ENV] = '%d,%d,%d' % (to_child_r, from_child_w, max(1, steps // SLICES))
    out, err = tempfile.TemporaryFile('w+'), tempfile.TemporaryFile('w+')
    proc = subprocess.Popen(argv, env=env, cwd=tf1_steps.PROGRAMS_DIR, stdout=out, stderr=err,
                            pass_fds=(to_child_r, from_child_w))
    os.close(to_child_r)
    os.close(from_child_w)
    return {'proc': proc, 'give': to_child_w, 'back': from_child_r, 'out': out, 'err': err}


def _read_byte(fd):
    try:
        return os.read(fd, 1)
    except OSError:
        return b''


def _give(child):
    """Gives `child` the turn and waits until it hands it back; False once the child has exited."""
    try:
        os.write(child['give'], b'G')
    except (BrokenPipeError, OSError):
        return False
    return _read_byte(child['back']) == b'R'


def run_pair(program, frameworks, data_dir, first, peer_env=None, nanotf_env=None):
    """{framework: child result} for one program, the frameworks taking turns; `first` starts; `peer_env`:
    environment variables of the second nanotf process ('nanotf:2'), `nanotf_env` of the first ('nanotf')."""
    order = sorted(frameworks, key=lambda f: f != first)
    envs = {'nanotf:2': peer_env, 'nanotf': nanotf_env}
    children = {f: _start(f, program, data_dir, envs.get(f)) for f in order}
    live = [f for f in order if _read_byte(children[f]['back']) == b'W']   # each is at its first run
    while live:
        for f in list(live):
            if not _give(children[f]):
                live.remove(f)
    results = {}
    for f, c in children.items():
        c['proc'].wait()
        for fd in (c['give'], c['back']):
            os.close(fd)
        c['out'].seek(0)
        c['err'].seek(0)
        stdout, stderr = c['out'].read(), c['err'].read()
        lines = [line for line in stdout.splitlines() if line.startswith(tf1_steps.RESULT_PREFIX)]
        if c['proc'].returncode != 0 or not lines:
            tail = (stderr or stdout).strip().splitlines()[-1:] or ['(no output)']
            results[f] = {'failed': 'FAILED rc=%d: %s' % (c['proc'].returncode, tail[0][:120])}
        else:
            results[f] = json.loads(lines[-1][len(tf1_steps.RESULT_PREFIX):])
    return results


def slice_steps(runs):
    """{slice index: ms per step} over the training runs after warm-up (tf1_steps' rule), a step being the sum
    over the training signatures of their median run in the slice, weighted by how often each runs per step.
    A slice missing one of the signatures (a GAN's two train ops) is left out."""
    signatures = tf1_steps.training_signatures(runs)
    per_slice = {}
    for i, (r, _, warm) in enumerate(signatures):
        for s, sec in zip(r['slices'][warm:], r['seconds'][warm:]):
            per_slice.setdefault(s, {}).setdefault(i, []).append(sec)
    return {s: sum(statistics.median(secs) * 1000.0 * signatures[i][1] for i, secs in by_sig.items())
            for s, by_sig in per_slice.items() if len(by_sig) == len(signatures)}


def pair_ratios(nano, tf, nano_first):
    """nanotf / TF for each pair of neighbouring slices: the turn went n0 t0 n1 t1 ... (or t0 n0 t1 n1 ...), and
    each slice is compared with the other framework's slice just before and just after it."""
    ratios = []
    for s, ms in nano.items():
        for t in ((s - 1, s) if nano_first else (s, s + 1)):
            if t in tf and tf[t] > 0:
                ratios.append(ms / tf[t])
    return ratios


def quartiles(xs):
    q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
    return q[0], q[1], q[2]


def main():
    if len(sys.argv) > 2 and sys.argv[1] == '--child':
        return child(sys.argv[2], sys.argv[4:])
    import results
    def flags(p):
        p.add_argument('--self_check', action='store_true', help='nanotf against a second nanotf process (the '
                       'method\'s own bias: its ratios should sit around 1); the TensorFlow column is then that '
                       'second process')
        p.add_argument('--peer_env', action='append', default=[], metavar='NAME=VALUE',
                       help='with --self_check: an environment variable of the second process (repeatable)')
        p.add_argument('--nanotf_env', action='append', default=[], metavar='NAME=VALUE',
                       help='an environment variable of the (first) nanotf process (repeatable)')
    args, names = tf1_programs.parse_args(__doc__, PROGRAMS, 1, 'tf1_lockstep', flags)
    if args.peer_env and (not args.self_check or any('=' not in item for item in args.peer_env)):
        print('tf1_lockstep.py: --peer_env takes NAME=VALUE and needs --self_check', file=sys.stderr)
        raise SystemExit(2)
    if any('=' not in item for item in args.nanotf_env):
        print('tf1_lockstep.py: --nanotf_env takes NAME=VALUE', file=sys.stderr)
        raise SystemExit(2)
    peer_env = dict(item.split('=', 1) for item in args.peer_env)
    nanotf_env = dict(item.split('=', 1) for item in args.nanotf_env)
    data_dir = None if args.fake_data else tf1_programs.find_mnist()
    fws = ['nanotf', 'tensorflow']
    if args.self_check:
        fws = ['nanotf', 'nanotf:2']
    elif tf1_programs.frameworks() != fws:
        fws = ['nanotf']
    lines = ['| program | args | nanotf ms/step | TensorFlow ms/step | nanotf / TF (median of pairs) | quartiles '
             '| pairs | settled |', '|---|---|---|---|---|---|---|---|']
    summary = {}
    for i, n in enumerate(names):
        first = fws[i % len(fws)]
        res = run_pair(n, fws, data_dir, first, peer_env, nanotf_env)
        steps = {f: slice_steps(r['runs']) if 'runs' in r else None for f, r in res.items()}
        med = {f: statistics.median(s.values()) if s else None for f, s in steps.items()}
        row = {'first': first, 'ms': med, 'last_line': {f: r.get('last_line', r.get('failed')) for f, r in res.items()}}
        peer = fws[-1] if len(fws) > 1 else None     # None: no TensorFlow venv
        ratios = pair_ratios(steps['nanotf'], steps[peer], first == 'nanotf') \
            if peer and steps.get('nanotf') and steps.get(peer) else []
        cell = lambda f: '%.2f' % med[f] if med.get(f) else ('failed' if f in med else 'n/a')  # noqa: E731
        if ratios:
            q1, q2, q3 = quartiles(ratios)
            settled = 'faster' if q3 < 1 else 'slower' if q1 > 1 else 'no'
            row.update(ratio=q2, quartiles=[q1, q3], pairs=len(ratios), settled=settled)
            lines.append('| %s | `%s` | %s | %s | %.2f | %.2f-%.2f | %d | %s |'
                         % (n, ' '.join(PROGRAMS[n]), cell('nanotf'), cell(peer), q2, q1, q3, len(ratios),
                            settled))
        else:
            lines.append('| %s | `%s` | %s | %s | n/a | n/a | 0 | n/a |' % (n, ' '.join(PROGRAMS[n]), cell('nanotf'),
                                                                           cell(peer)))
        summary[n] = row
        print(lines[-1], '  ', row['last_line'], flush=True)
    machine = results.machine()
    table = '\n'.join(lines)
    print(table)
    results.write(args.out, '# TF 1.x-style programs per training step, nanotf and TensorFlow 2.21 compat.v1 in '
                  'lockstep\n\nMade by `benchmarks/tf1_lockstep.py%s` on %s, %s data. Both frameworks run the program '
                  'at once and take turns, every 1/%d of the steps\' training runs; `nanotf / TF` is the median over '
                  'pairs of neighbouring slices (the same second), `quartiles` their 25th and 75th percentiles; '
                  '`settled` says whether both quartiles lie on one side of 1. ms/step: median over each framework\'s '
                  'slices.\n\n%s\n' % ((' --self_check' if args.self_check else '')
                                       + ''.join(' --peer_env %s' % e for e in args.peer_env)
                                       + ''.join(' --nanotf_env %s' % e for e in args.nanotf_env), machine,
                                       'fake' if data_dir is None else 'real MNIST', SLICES, table),
                  {'slices': SLICES, 'self_check': args.self_check, 'peer_env': peer_env, 'nanotf_env': nanotf_env, 'fake_data': data_dir is None, 'machine': machine,
                   'summary': summary})


if __name__ == '__main__':
    main()
