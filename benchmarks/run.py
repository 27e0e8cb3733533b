"""Runs the MNIST MLP benchmark programs side by side and reports medians.

    .venv/bin/python benchmarks/run.py                      # tutorial, 3 repeats
    .venv/bin/python benchmarks/run.py --config scale
    .venv/bin/python benchmarks/run.py --openblas-env both  # as set + unset
    .venv/bin/python benchmarks/run.py --max_steps 300 --repeats 1   # smoke
    .venv/bin/python benchmarks/run.py --contention 1       # quiet and beside 1 busy process

Every program is a separate process, run in turn (A B C D E A B C D E ...)
so that slow drifts of the machine hit all of them alike.  The harness times
each process from spawn to exit and reads its peak RSS from wait4(); the
program prints the rest as one JSON line (see programs/_bench.py).  The
report (a Markdown table, printed and written with the raw numbers to
results/<name>.md and .json) gives each metric's median over the repeats
and its ratio to nanotf's, plus the matmul-only floor (floor.py).

With --contention N every program also runs beside N CPU-bound processes
(contention.py: each bounded by `timeout`, killed as soon as the program
ends), alternating with its quiet runs, and the report adds a table of
loaded against quiet figures and the checks of the issue "Off the happy
path" (nanotf beside one busy process: at most 1.5x its quiet wall time and
0.4x TensorFlow's loaded wall time; no nanotf run above 2x its median).
"""
import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS_DIR = os.path.join(HERE, 'programs')
VENVS = os.path.join(HERE, '.venvs')
sys.path.insert(0, PROGRAMS_DIR)
import _bench  # noqa: E402  (CONFIGS, RESULT_PREFIX, T0_ENV)
import mnist_idx  # noqa: E402  (missing_files)
sys.path.insert(0, HERE)
import contention  # noqa: E402  (busy neighbours)
import results  # noqa: E402  (results/*.md and .json)

# name -> (script, venv under .venvs/ or None for this interpreter)
PROGRAMS = {
    'nanotf': ('nanotf_mlp.py', None),
    'nanotf-xla': ('nanotf_mlp.py', None),   # the same program, its Sessions on the XLA backend (PROGRAM_ENV)
    'numpy': ('numpy_mlp.py', None),
    'tensorflow': ('tf_mlp.py', 'tf'),
    'torch': ('torch_mlp.py', 'torch'),
    'jax': ('jax_mlp.py', 'jax'),
}
# what a program runs with besides the variant's environment
PROGRAM_ENV = {'nanotf-xla': {'NANOTF_XLA': '1'}}
OPENBLAS_VARS = ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')
STEADY_FROM = 200  # ms/step is the median over steps [200, max_steps)

# (key in a run's result, column title, cell format)
METRICS = [
    ('wall_s', 'wall s', '%.2f'),
    ('step0_s', 'start→step 0 s', '%.2f'),
    ('ms_per_step', 'ms/step', '%.3f'),
    ('eval_examples_per_s', 'eval ex/s', '%.0f'),
    ('peak_rss_mb', 'peak RSS MB', '%.0f'),
    ('final_test_precision', 'test precision', '%.4f'),
]


def venv_python(venv):
    return os.path.join(VENVS, venv, 'bin', 'python')


def python_for(name, args):
    venv = PROGRAMS[name][1]
    return args.python if venv is None else venv_python(venv)


def steady_window(max_steps):
    """First step of the ms/step window: 200, or half the run if shorter."""
    return STEADY_FROM if max_steps >= 2 * STEADY_FROM else max_steps // 2


def openblas_envs(mode):
    """[(label, environment)] for --openblas-env, and a note (or None)."""
    as_set = dict(os.environ)
    unset = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    shown = ', '.join('%s=%s' % (k, os.environ[k]) for k in OPENBLAS_VARS
                      if k in os.environ) or 'neither set'
    if mode == 'as-set':
        return [('as set (%s)' % shown, as_set)], None
    if mode == 'unset':
        return [('unset', unset)], None
    if not any(k in os.environ for k in OPENBLAS_VARS):
        return [('as set (%s)' % shown, as_set)], (
            '--openblas-env both: neither %s is set in this environment, so '
            '"unset" would equal "as set"; ran once.' % ' nor '.join(OPENBLAS_VARS))
    return [('as set (%s)' % shown, as_set), ('unset', unset)], None


def with_threads(env, threads):
    env = dict(env)
    if threads:
        for key in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS',
                    'MKL_NUM_THREADS'):
            env[key] = str(threads)
    return env


def precompile(python):
    """Byte-compiles nanotf and the programs for ``python`` (a no-op when
    up to date) and returns a note.

    pip byte-compiles every package it installs, so TensorFlow, PyTorch, JAX
    and NumPy import from .pyc files; an editable nanotf does not, and where
    PYTHONDONTWRITEBYTECODE is set (it is on the project's machines) it would
    recompile its sources in every process.  Compiling first compares like
    with like (Python still reads .pyc files under that variable; the
    __pycache__ folders are git-ignored).
    """
    find = ('import importlib.util as u; s = u.find_spec("nanotf"); '
            'print(s.submodule_search_locations[0] if s else "")')
    where = subprocess.run([python, '-c', find], capture_output=True,
                           text=True).stdout.strip()
    targets = [PROGRAMS_DIR] + ([where] if where else [])
    proc = subprocess.run([python, '-m', 'compileall', '-q'] + targets,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return 'byte-compiling %s failed: %s' % (', '.join(targets),
                                                 proc.stdout.strip()[-300:])
    return None


def run_process(cmd, env, timeout_s):
    """(returncode, wall seconds, peak RSS MB, stdout, stderr) of one run.

    stdout/stderr go to files (no pipe can fill up and stall the child);
    wait4 gives this child's own rusage, not the max over all children.
    """
    with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
        env = dict(env)
        start = time.monotonic_ns()
        env[_bench.T0_ENV] = str(start)
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env,
                                start_new_session=True)
        killer = threading.Timer(timeout_s, os.killpg,
                                 (proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = (time.monotonic_ns() - start) / 1e9
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, wall, usage.ru_maxrss / 1024.0, out.read(), err.read()


def run_program(name, args, env, data_dir, busy=0):
    with contention.busy(busy, args.timeout + 30, python=args.python):
        load = load_average()
        result = _run_program(name, args, env, data_dir)
    result['load_before'] = load
    return result


def load_average():
    """The machine's 1-minute load average (None where unknown): how busy it was besides us."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _run_program(name, args, env, data_dir):
    script = os.path.join(PROGRAMS_DIR, PROGRAMS[name][0])
    log_dir = tempfile.mkdtemp(prefix='bench_%s_' % name)
    cmd = [python_for(name, args), script, '--config', args.config,
           '--data_dir', data_dir, '--log_dir', log_dir]
    if args.max_steps:
        cmd += ['--max_steps', str(args.max_steps)]
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    try:
        rc, wall, rss, out, err = run_process(cmd, dict(env, **PROGRAM_ENV.get(name, {})), args.timeout)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    lines = [l for l in out.splitlines() if l.startswith(_bench.RESULT_PREFIX)]
    if rc != 0 or not lines:
        tail = (err.strip() or out.strip()).splitlines()[-1:] or ['(no output)']
        why = 'killed after %d s' % args.timeout if rc == -signal.SIGKILL else 'exit %d' % rc
        return {'error': '%s: %s' % (why, tail[0][:300]), 'wall_s': wall,
                'stderr_tail': err[-3000:]}
    result = json.loads(lines[-1][len(_bench.RESULT_PREFIX):])
    steps = result.pop('step_ms')
    window = steps[steady_window(len(steps)):]
    result.update(
        wall_s=wall, peak_rss_mb=rss, step0_s=result.pop('step0_end_s'),
        ms_per_step=statistics.median(window),
        step_ms_stats={
            'window': [steady_window(len(steps)), len(steps)],
            'median': statistics.median(window),
            'mean': statistics.fmean(window),
            'p10': _quantile(window, 0.1), 'p90': _quantile(window, 0.9),
            'step0': steps[0], 'all_steps_total_s': sum(steps) / 1e3})
    return result


def _quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure_floor(args, env, config, busy=0):
    with contention.busy(busy, 330, python=args.python):
        return _measure_floor(args, env, config)


def _measure_floor(args, env, config):
    cmd = [args.python, os.path.join(HERE, 'floor.py'),
           '--batch_size', str(config['batch_size']),
           '--hidden1', str(config['hidden1']),
           '--hidden2', str(config['hidden2'])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        return {'error': (proc.stderr.strip().splitlines() or ['?'])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize_floor(floors):
    """The best round's floor (a floor is the fastest the GEMMs went; slower
    rounds measured the machine's other load)."""
    ok = [f for f in floors if 'error' not in f]
    if not ok:
        return floors[-1] if floors else {'error': 'not measured'}
    out = dict(min(ok, key=lambda f: f['floor_ms_per_step']))
    out['floor_ms_per_step_each_round'] = [f['floor_ms_per_step'] for f in ok]
    return out


def summarize(runs):
    """Median of each metric over the successful runs, and the losses."""
    ok = [r for r in runs if 'error' not in r]
    out = {'runs': len(runs), 'ok': len(ok),
           'errors': sorted({r['error'] for r in runs if 'error' in r})}
    if not ok:
        return out
    for key, _, _ in METRICS:
        values = [r[key] for r in ok if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    steps = sorted({int(s) for r in ok for s in r['losses']})
    out['losses'] = {s: statistics.median(r['losses'][str(s)] for r in ok
                                          if str(s) in r['losses'])
                     for s in steps}
    out['blas'] = ok[-1].get('blas')
    out['framework_version'] = ok[-1].get('framework_version')
    loads = [r['load_before'] for r in runs if r.get('load_before') is not None]
    out['load_before_median'] = statistics.median(loads) if loads else None
    walls = [r['wall_s'] for r in ok]
    out['wall_s_runs'] = walls
    out['worst_wall_over_median'] = max(walls) / statistics.median(walls)
    return out


def ratio(value, reference):
    if value is None or not reference:
        return None
    return value / reference


def blas_text(blas):
    if not blas:
        return 'none found'
    parts = []
    for b in blas:
        text = '%s %s' % (b.get('internal_api'), b.get('version') or '')
        if b.get('architecture'):
            text += ' core=%s' % b['architecture']
        if b.get('num_threads') is not None:
            text += ' threads=%s' % b['num_threads']
        parts.append(text.strip())
    return '; '.join(parts)


def markdown(report):
    lines = ['# MNIST MLP benchmark: `%s`' % report['name'], '',
             report['machine'], '',
             'Hyperparameters: %s. %d repeat(s), programs alternated run by run; '
             'each cell is the median over the repeats, with its ratio to nanotf '
             'in parentheses (for times and memory, >1 means slower/bigger than '
             'nanotf). ms/step is the median over steps %d..%d.'
             % (', '.join('%s=%s' % kv for kv in report['hyperparameters'].items()),
                report['repeats'], report['steady_window'][0],
                report['steady_window'][1]), '']
    for note in report['notes']:
        lines += ['> %s' % note, '']
    for variant in report['variants']:
        lines += ['## OpenBLAS environment: %s' % variant['label'], '']
        floor = variant['floor']
        if 'error' in floor:
            lines += ['Floor: not measured (%s)' % floor['error'], '']
        else:
            lines += ['**Floor**: %.3f ms/step = %.1f MFLOP per step (3 forward + 5 '
                      'backward matmuls) at %.1f GFLOP/s, NumPy float32 matmul on '
                      'the same shapes in one process, best of the rounds (a '
                      '1024³ matmul runs at %.1f GFLOP/s). BLAS: %s.'
                      % (floor['floor_ms_per_step'], floor['flops_per_step'] / 1e6,
                         floor['gemm_gflops_per_s'], floor['square_1024_gflops_per_s'],
                         blas_text(floor['blas'])), '']
        header = ['program'] + [title for _, title, _ in METRICS] + ['× floor']
        lines += ['| ' + ' | '.join(header) + ' |',
                  '|' + '---|' * len(header)]
        ref = variant['summary'].get('nanotf', {})
        for name, s in variant['summary'].items():
            if s.get('ok', 0) == 0:
                continue
            cells = [name]
            for key, _, fmt in METRICS:
                value = s.get(key)
                cell = fmt % value if value is not None else 'n/a'
                r = ratio(value, ref.get(key))
                if r is not None and name != 'nanotf':
                    cell += ' (%.2f×)' % r
                cells.append(cell)
            floor_ms = floor.get('floor_ms_per_step')
            cells.append('%.1f×' % (s['ms_per_step'] / floor_ms) if floor_ms else 'n/a')
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines.append('')
        ran = {n: s for n, s in variant['summary'].items() if s.get('ok')}
        if ran:
            steps = sorted({st for s in ran.values() for st in s['losses']})
            lines += ['Loss at step (median over repeats):', '',
                      '| step | ' + ' | '.join(ran) + ' |',
                      '|' + '---|' * (len(ran) + 1)]
            for st in steps:
                lines.append('| %d | ' % st + ' | '.join(
                    '%.4f' % s['losses'][st] if st in s['losses'] else ''
                    for s in ran.values()) + ' |')
            lines += ['', 'Versions and BLAS seen by each program:', '']
            for name, s in ran.items():
                lines.append('- %s %s: %s' % (name, s.get('framework_version') or '',
                                              blas_text(s.get('blas'))))
            lines.append('')
        for name, s in variant['summary'].items():
            for err in s.get('errors', []):
                lines.append('- **%s failed** (%d of %d runs): %s'
                             % (name, s['runs'] - s['ok'], s['runs'], err))
        lines.append('')
    lines += contention_markdown(report)
    return '\n'.join(lines).rstrip() + '\n'


def _summaries_by_env(report):
    """{OpenBLAS environment label: {busy processes: variant summary}}."""
    by_env = {}
    for v in report['variants']:
        by_env.setdefault(v.get('openblas_label', v['label']), {})[v.get('busy', 0)] = v['summary']
    return by_env


def contention_checks(report):
    """[(check, measured text, met?)] of the issue's done-when, for each OpenBLAS environment."""
    checks = []
    for env_label, loads in _summaries_by_env(report).items():
        quiet = loads.get(0, {})
        for busy, summary in sorted(loads.items()):
            if not busy:
                continue
            nq, nl = quiet.get('nanotf', {}), summary.get('nanotf', {})
            tl = summary.get('tensorflow', {})
            where = '%s, %s' % (env_label, contention.label(busy))
            if nq.get('wall_s') and nl.get('wall_s'):
                r = nl['wall_s'] / nq['wall_s']
                checks.append(('nanotf wall %s ≤ 1.5 × quiet' % where,
                               '%.2f s / %.2f s = %.2f×' % (nl['wall_s'], nq['wall_s'], r), r <= 1.5))
            if tl.get('wall_s') and nl.get('wall_s'):
                r = nl['wall_s'] / tl['wall_s']
                checks.append(('nanotf wall %s ≤ 0.4 × TensorFlow\'s' % where,
                               '%.2f s / %.2f s = %.2f×' % (nl['wall_s'], tl['wall_s'], r), r <= 0.4))
    for v in report['variants']:
        s = v['summary'].get('nanotf', {})
        if s.get('worst_wall_over_median'):
            r = s['worst_wall_over_median']
            checks.append(('no nanotf run above 2 × its median (%s)' % v['label'],
                           'worst %.2f s / median %.2f s = %.2f×' % (max(s['wall_s_runs']), s['wall_s'], r),
                           r <= 2.0))
    return checks


def contention_markdown(report):
    """Quiet against loaded figures of every program, and the checks (empty without --contention)."""
    if not any(v.get('busy') for v in report['variants']):
        return []
    lines = ['## Quiet and loaded', '',
             'Each program alone and beside CPU-bound processes (`python -c "while True: pass"`, '
             'bounded by `timeout`), alternated in the same invocation; medians over the repeats.', '']
    for env_label, loads in _summaries_by_env(report).items():
        quiet = loads.get(0, {})
        for busy, summary in sorted(loads.items()):
            if not busy:
                continue
            lines += ['OpenBLAS environment: %s; loaded = %s. Load average before the runs (median; '
                      'the busy processes started by the harness come on top): %s.'
                      % (env_label, contention.label(busy), ', '.join(
                          '%s %s' % (n, '%.2f' % s['load_before_median'] if s.get('load_before_median')
                                     is not None else '?') for n, s in quiet.items() if s.get('ok'))), '',
                      '| program | quiet wall s | loaded wall s | loaded / quiet | quiet ms/step | '
                      'loaded ms/step | loaded / quiet | worst run / median (quiet, loaded) |',
                      '|---|---|---|---|---|---|---|---|']
            for name in summary:
                q, l = quiet.get(name, {}), summary[name]
                if not q.get('ok') or not l.get('ok'):
                    continue
                lines.append('| %s | %.2f | %.2f | %.2f× | %.3f | %.3f | %.2f× | %.2f×, %.2f× |' % (
                    name, q['wall_s'], l['wall_s'], l['wall_s'] / q['wall_s'], q['ms_per_step'],
                    l['ms_per_step'], l['ms_per_step'] / q['ms_per_step'], q['worst_wall_over_median'],
                    l['worst_wall_over_median']))
            lines.append('')
    checks = contention_checks(report)
    if checks:
        lines += ['| check | measured | |', '|---|---|---|']
        lines += ['| %s | %s | %s |' % (c, m, 'met' if ok else '**missed**') for c, m, ok in checks]
        lines.append('')
    return lines


def machine_text(args):
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    threads = args.threads or 'framework defaults'
    return ('Machine: %s, %d CPU(s), Linux %s, Python %s; threads: %s.'
            % (cpu, os.cpu_count() or 0, platform.release(),
               platform.python_version(), threads))


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', choices=sorted(_bench.CONFIGS), default='tutorial')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--programs', nargs='+', choices=list(PROGRAMS),
                   default=list(PROGRAMS))
    p.add_argument('--data_dir', default='/work/shared/data/mnist')
    p.add_argument('--max_steps', type=int, default=None,
                   help='override the config (smoke runs); the report is then '
                        'named <config>-steps<N>')
    p.add_argument('--threads', type=int, default=0,
                   help='limit every framework and BLAS to N threads (0: defaults)')
    p.add_argument('--openblas-env', dest='openblas_env', default='as-set',
                   choices=['as-set', 'unset', 'both'],
                   help='run with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as set, '
                        'unset, or both (two tables)')
    p.add_argument('--python', default=sys.executable,
                   help='interpreter for nanotf and numpy (needs nanotf installed)')
    p.add_argument('--timeout', type=int, default=1800,
                   help='seconds before a program run is killed')
    p.add_argument('--no-compile', dest='compile', action='store_false',
                   help='do not byte-compile nanotf first (see precompile())')
    p.add_argument('--contention', type=int, default=0, metavar='N',
                   help='also run every program beside N busy processes (alternated with quiet '
                        'runs) and report both')
    p.add_argument('--results_dir', default=os.path.join(HERE, 'results'))
    p.add_argument('--name', default=None, help='report file name (no suffix)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    missing = mnist_idx.missing_files(args.data_dir)
    if missing:
        print('SKIPPED: MNIST is not in --data_dir %s (missing: %s). Put the four '
              'IDX files there (never commit them).' % (args.data_dir, ', '.join(missing)))
        return 0
    config = dict(_bench.CONFIGS[args.config])
    if args.max_steps:
        config['max_steps'] = args.max_steps
    name = args.name or (args.config if not args.max_steps
                         else '%s-steps%d' % (args.config, args.max_steps))
    if args.contention and not args.name:
        name += '-contention%d' % args.contention
    notes = []
    programs = []
    for prog in args.programs:
        python = python_for(prog, args)
        if not os.path.exists(python):
            notes.append('%s skipped: no venv at %s (run `bash benchmarks/setup_peers.sh %s`).'
                         % (prog, os.path.dirname(os.path.dirname(python)),
                            PROGRAMS[prog][1]))
        else:
            programs.append(prog)
    if args.compile:
        note = precompile(args.python)
        if note:
            notes.append(note)
    else:
        notes.append('--no-compile: nanotf was not byte-compiled first (PYTHONDONTWRITEBYTECODE=%s).'
                     % os.environ.get('PYTHONDONTWRITEBYTECODE', ''))
    envs, note = openblas_envs(args.openblas_env)
    if note:
        notes.append(note)
    for n in notes:
        print('NOTE:', n)

    loads = [0, args.contention] if args.contention else [0]
    variants = [{'label': label if not args.contention else '%s, %s' % (label, contention.label(busy)),
                 'openblas_label': label, 'busy': busy, 'env': with_threads(env, args.threads),
                 'runs': {p: [] for p in programs}, 'floors': []}
                for label, env in envs for busy in loads]
    for rep in range(args.repeats):
        for variant in variants:
            # The floor is measured every round too: on a shared machine one
            # measurement can land in someone else's busy second.
            floor = measure_floor(args, variant['env'], config, variant['busy'])
            variant['floors'].append(floor)
            print('[%d/%d] %-10s %-40s %s' % (
                rep + 1, args.repeats, 'floor', variant['label'][:40],
                floor.get('error') or '%.3f ms/step' % floor['floor_ms_per_step']),
                flush=True)
            for prog in programs:
                r = run_program(prog, args, variant['env'], args.data_dir, variant['busy'])
                variant['runs'][prog].append(r)
                if 'error' in r:
                    status = 'FAILED ' + r['error']
                else:
                    status = ('%.2f s wall, %.3f ms/step, test %.4f, load before %s'
                              % (r['wall_s'], r['ms_per_step'], r['final_test_precision'],
                                 '%.2f' % r['load_before'] if r.get('load_before') is not None else '?'))
                print('[%d/%d] %-10s %-40s %s' % (rep + 1, args.repeats, prog,
                                                 variant['label'][:40], status), flush=True)

    report = {
        'name': name, 'config': args.config, 'hyperparameters': config,
        'repeats': args.repeats, 'threads': args.threads, 'contention': args.contention,
        'steady_window': [steady_window(config['max_steps']), config['max_steps']],
        'machine': machine_text(args), 'notes': notes, 'variants': []}
    for v in variants:
        report['variants'].append({
            'label': v['label'], 'openblas_label': v['openblas_label'], 'busy': v['busy'],
            'floor': summarize_floor(v['floors']),
            'openblas_env': {k: v['env'].get(k) for k in OPENBLAS_VARS},
            'summary': {p: summarize(runs) for p, runs in v['runs'].items()},
            'runs': v['runs']})
    text = markdown(report)
    print()
    print(text)
    base = os.path.join(args.results_dir, name)
    results.write(base, text, report, default=str)
    print('wrote %s.md and %s.json' % (base, base))
    return 0


if __name__ == '__main__':
    sys.exit(main())
