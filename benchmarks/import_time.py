"""How long `import nanotf` takes, next to `import numpy` (its floor: nanotf
cannot import faster than NumPy) and `import tensorflow` (when its venv exists).

    .venv/bin/python benchmarks/import_time.py              # 10 runs each
    .venv/bin/python benchmarks/import_time.py --repeats 20 --peers torch jax

Each row is the median wall time of a fresh `python -c "import X"` process
(interpreter start-up included; the `python -c pass` row shows that part),
the commands run in turn so drifts hit all alike.  nanotf is byte-compiled
first, as pip does for the peers (see run.precompile).  Writes
results/import_time.md and .json.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import results
import run

HERE = os.path.dirname(os.path.abspath(__file__))
VENVS = os.path.join(HERE, '.venvs')

# label -> (venv under .venvs/ or None for this interpreter, module)
PEERS = {'tensorflow': ('tf', 'tensorflow'), 'torch': ('torch', 'torch'),
         'jax': ('jax', 'jax')}


def time_once(python, code):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    start = time.perf_counter()
    proc = subprocess.run([python, '-c', code], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ['?'])[-1]
        raise RuntimeError('%s -c %r failed: %s' % (python, code, last))
    return seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--peers', nargs='*', choices=list(PEERS), default=['tensorflow'])
    p.add_argument('--python', default=sys.executable,
                   help='interpreter with nanotf and numpy installed')
    p.add_argument('--no-compile', dest='compile', action='store_false',
                   help='do not byte-compile nanotf first (see run.precompile)')
    p.add_argument('--results_dir', default=os.path.join(HERE, 'results'))
    args = p.parse_args(argv)

    notes = []
    if args.compile:
        note = run.precompile(args.python)
        if note:
            notes.append(note)
    else:
        notes.append('--no-compile: nanotf was not byte-compiled first')
    commands = [('python -c pass', args.python, 'pass'),
                ('import numpy', args.python, 'import numpy'),
                ('import nanotf', args.python, 'import nanotf')]
    for label in args.peers:
        venv, module = PEERS[label]
        python = os.path.join(VENVS, venv, 'bin', 'python')
        if os.path.exists(python):
            commands.append(('import ' + module, python, 'import ' + module))
        else:
            notes.append('%s skipped: no venv at %s (run `bash benchmarks/setup_peers.sh %s`)'
                         % (label, os.path.dirname(os.path.dirname(python)), venv))
    for note in notes:
        print('NOTE:', note)
    times = {label: [] for label, _, _ in commands}
    failed = {}
    for _ in range(args.repeats):
        for label, python, code in commands:
            if label in failed:
                continue
            try:
                times[label].append(time_once(python, code))
            except RuntimeError as exc:
                failed[label] = str(exc)
    medians = {k: statistics.median(v) for k, v in times.items() if v}
    numpy_s = medians.get('import numpy')
    nanotf_s = medians.get('import nanotf')
    lines = ['# Import time', '',
             'Median wall time of a fresh process over %d runs (Python %s).'
             % (args.repeats, sys.version.split()[0]), '',
             '| command | median s | min s | × import numpy | nanotf × this |',
             '|---|---|---|---|---|']
    for label, _, _ in commands:
        if label not in medians:
            continue
        m = medians[label]
        lines.append('| `%s` | %.3f | %.3f | %s | %s |' % (
            label, m, min(times[label]),
            '%.2f' % (m / numpy_s) if numpy_s else 'n/a',
            '%.2f' % (nanotf_s / m) if nanotf_s else 'n/a'))
    lines.append('')
    for note in notes:
        lines.append('> %s' % note)
    for label, why in failed.items():
        lines.append('> **%s failed**: %s' % (label, why))
    text = '\n'.join(lines).rstrip() + '\n'
    print(text)
    base = os.path.join(args.results_dir, 'import_time')
    results.write(base, text, {'repeats': args.repeats, 'seconds': times, 'median_s': medians,
                               'failed': failed, 'notes': notes})
    print('wrote %s.md and %s.json' % (base, base))
    return 0


if __name__ == '__main__':
    sys.exit(main())
