"""What the MNIST example commands share: where data and runs go, flag checks, one-line errors.

Every command's `main(argv)` goes through `run_command`, which turns the failures a user can cause
(a bad flag, a missing or corrupt data file, a log directory that cannot be made, a full disk, Ctrl-C)
into one line on stderr, prefixed with the program name as argparse does, and an exit status:
2 for a bad flag (argparse's convention), 1 for a failure while running, 130 for Ctrl-C (the shell's
128 + SIGINT). `--debug` or NANOTF_DEBUG=1 adds the full traceback, for bug reports. Anything else is
a bug and keeps Python's traceback.

`run_command` also gives every command the XLA backend's flags (docs/xla.md): `--xla` runs the program's
Sessions on it (`session_config(flags)` is their ConfigProto), and `--coordinator HOST:PORT --num_processes N
--process_id I` joins a JAX cluster before any Session exists (implies --xla). In a cluster every process
reads the same batches (the same --seed, 0 unless given, so weights and batch order agree) and feeds its own
rows of each (`local_rows`); the data-parallel step sums over the whole batch, so every process ends with the
weights one process would reach on the whole batch.
"""
import argparse
import errno
import math
import os
import sys
import time
import traceback

from nanotf.datasets.download import DownloadError, missing_dirs, remove_empty_dirs
from nanotf.datasets.mnist import ChecksumError, IDXFormatError
from nanotf.framework import environment

DEBUG_ENV = "NANOTF_DEBUG"
EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
EVENTS_PREFIX = "events.out.tfevents."

ENVIRONMENT_HELP = ("environment: NANOTF_DATA_DIR sets where datasets are kept (default ~/.cache/nanotf; "
                    "MNIST goes to its mnist/ folder); NANOTF_DEBUG=1 shows the full traceback of an error, "
                    "as --debug does.")


class CommandError(Exception):
    """A failure the user can act on. Its message is one line naming the culprit (a flag and its value,
    a file, a directory) and what to do; `exit_code` is 1, or 130 for an interrupted run."""

    def __init__(self, message, exit_code=EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


def default_data_dir(dataset="mnist"):
    """Where datasets are kept unless a flag says otherwise ($NANOTF_DATA_DIR or ~/.cache/nanotf)."""
    root = environment.data_dir() or os.path.join(os.path.expanduser("~"), ".cache", "nanotf")
    return os.path.join(root, dataset)


# -- flag values: argparse `type=` functions, so that each bad value is reported alone, with its flag
def _number(text, convert, what):
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be %s, got %r" % (what, text)) from None
    return value


def positive_int(text):
    value = _number(text, int, "a positive integer")
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer, got %s" % text)
    return value


def non_negative_int(text):
    value = _number(text, int, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError("must be a non-negative integer, got %s" % text)
    return value


def positive_float(text):
    value = _number(text, float, "a positive number")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError("must be a positive finite number, got %s" % text)
    return value


def keep_probability(text):
    value = _number(text, float, "a probability in (0, 1]")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("must be a probability in (0, 1] (the fraction of units kept), "
                                         "got %s" % text)
    return value


def seed_value(text):
    value = _number(text, int, "an integer in [0, 2**32)")
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError("must be an integer in [0, 2**32), got %s" % text)
    return value


# -- the parser
class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to a flag's help once: not when the help already says its default, and not for
    defaults that say nothing (None, False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text.lower() or action.default in (None, False, argparse.SUPPRESS)
                or action.nargs == 0):
            return text
        return text + " (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (`prog: error: argument --x: ...`, no usage block) and exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def make_parser(prog, doc):
    """The parser of one command: its description and the environment variables in the epilog (run_command
    adds --debug)."""
    return ArgumentParser(prog=prog, description=doc.split("\n\n")[0], epilog=ENVIRONMENT_HELP,
                          formatter_class=HelpFormatter)


def add_data_dir_flag(parser, name, dataset="mnist"):
    """TensorFlow's flag name for the data directory (`--input_data_dir` in fully_connected_feed, `--data_dir`
    in the others), with the other spelling accepted as an alias. The value lands in `flags.data_dir`."""
    other = "--data_dir" if name == "--input_data_dir" else "--input_data_dir"
    parser.add_argument(name, other, dest="data_dir", default=None, metavar="DIR",
                        help="Directory of the four dataset files; missing ones are downloaded there "
                             "(default: $NANOTF_DATA_DIR/%s, or ~/.cache/nanotf/%s when NANOTF_DATA_DIR "
                             "is unset)." % (dataset, dataset))


def add_training_flags(parser, steps, batch_size, seed_use):
    """--steps (default `steps`, of `batch_size` examples each), --fake_data and --seed (for `seed_use`), as
    mnist_softmax and mnist_deep take them."""
    parser.add_argument("--steps", type=non_negative_int, default=steps,
                        help="Training steps of %d examples." % batch_size)
    parser.add_argument("--fake_data", action="store_true", help="Use fake data (no download).")
    parser.add_argument("--seed", type=seed_value, default=None, help="Seed for %s." % seed_use)


def data_dir_of(flags, flag="--data_dir", dataset="mnist"):
    """flags.data_dir, or the default one when the flag is not given. One that is a file is named before
    anything is read or downloaded."""
    path = flags.data_dir or default_data_dir(dataset)
    if not flags.fake_data:
        _refuse_file(path, flag)
    return path


def _refuse_file(path, flag):
    if os.path.exists(path) and not os.path.isdir(path):
        raise CommandError("%s %s: is a file, not a directory" % (flag, path))


# -- running a command
def run_command(parser, train, argv=None):
    """Parses argv (exit 2 on a bad flag), runs train(flags) and returns the exit status: 0, or 1/130 after
    printing one line saying what went wrong."""
    parser.add_argument("--debug", action="store_true",
                        help="On an error, print the full traceback too (for bug reports).")
    add_backend_flags(parser)
    flags = parser.parse_args(argv)
    check_backend_flags(parser, flags)
    debug = flags.debug or environment.debug()   # environment.debug() reads DEBUG_ENV
    try:
        start_backend(flags)
        train(flags)
        return 0
    except CommandError as e:
        return _report(parser.prog, e, str(e), e.exit_code, debug,
                       prefix="" if e.exit_code == EXIT_INTERRUPTED else "error: ")
    except KeyboardInterrupt as e:
        return _report(parser.prog, e, "interrupted (Ctrl-C)",
                       EXIT_INTERRUPTED, debug, prefix="")
    except (DownloadError, IDXFormatError, ChecksumError) as e:   # a DownloadError lists every URL tried
        return _report(parser.prog, e, str(e), EXIT_FAILURE, debug)
    except MemoryError as e:
        return _report(parser.prog, e, "out of memory (%s); try smaller layer sizes or --batch_size"
                       % (str(e) or "MemoryError"), EXIT_FAILURE, debug)
    except OSError as e:
        return _report(parser.prog, e, describe_os_error(e), EXIT_FAILURE, debug)


# -- the XLA backend and clusters of processes
def coordinator_address(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("must be HOST:PORT with a port in 1..65535, got %r" % text)
    return text


def add_backend_flags(parser):
    group = parser.add_argument_group("XLA backend (needs jax: pip install 'nanotf[xla]')")
    group.add_argument("--xla", action="store_true",
                       help="Run the Sessions on the XLA backend (one XLA computation per plan, through JAX).")
    group.add_argument("--coordinator", type=coordinator_address, default=None, metavar="HOST:PORT",
                       help="Join a cluster of --num_processes processes whose process 0 listens at HOST:PORT; "
                            "each process trains on its rows of every batch (implies --xla).")
    group.add_argument("--num_processes", type=positive_int, default=None, metavar="N",
                       help="Processes in the cluster (with --coordinator).")
    group.add_argument("--process_id", type=non_negative_int, default=None, metavar="I",
                       help="This process's index in the cluster, 0..N-1 (with --coordinator).")


def check_backend_flags(parser, flags):
    """The cluster flags come together and name a process of the cluster (else exit 2, one line)."""
    cluster = (flags.coordinator, flags.num_processes, flags.process_id)
    if any(v is not None for v in cluster) and any(v is None for v in cluster):
        parser.error("--coordinator, --num_processes and --process_id go together (given: %s)" % ", ".join(
            name for name, v in zip(("--coordinator", "--num_processes", "--process_id"), cluster) if v is not None))
    if flags.coordinator is not None:
        if flags.process_id >= flags.num_processes:
            parser.error("argument --process_id: must be below --num_processes %d, got %d"
                         % (flags.num_processes, flags.process_id))
        flags.xla = True
        if getattr(flags, "seed", 0) is None:
            flags.seed = 0   # every process must draw the same initial weights and batch order


def start_backend(flags):
    """Imports the XLA backend when asked for (one line naming the pip command when jax is missing) and joins
    the cluster before any Session exists."""
    if not flags.xla:
        return
    try:
        from nanotf.xla import _jax
        _jax.require_jax()   # also when nanotf.xla was imported before jax went missing
    except ImportError as e:
        raise CommandError("--xla: %s" % e) from None
    if flags.coordinator is not None:
        from nanotf.xla import distributed
        try:
            distributed.initialize(flags.coordinator, flags.num_processes, flags.process_id)
        except (RuntimeError, ValueError) as e:   # JAX's errors: unreachable coordinator, a second initialize
            raise CommandError("--coordinator %s: cannot join the cluster as process %d of %d: %s" % (
                flags.coordinator, flags.process_id, flags.num_processes, " ".join(str(e).split()))) from None


def session_config(flags):
    """The ConfigProto of the program's Sessions: XLA's global_jit_level ON_1 with --xla, else None."""
    if not getattr(flags, "xla", False):
        return None
    import nanotf as tf
    return tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=tf.OptimizerOptions.ON_1)))


def in_cluster(flags):
    return getattr(flags, "coordinator", None) is not None


class _LocalRows:
    """A DataSet seen by one process of a cluster: batches and arrays are this process's rows of the ones every
    process draws alike; `num_examples` stays the whole set's (evaluations count over the whole batch)."""

    def __init__(self, data_set, index, count):
        self._data_set, self._index, self._count = data_set, index, count

    def _rows(self, x):
        n = len(x)
        if n % self._count:
            raise CommandError("a batch of %d examples does not split over %d processes; use a batch size that "
                               "is a multiple of --num_processes" % (n, self._count))
        part = n // self._count
        return x[self._index * part:(self._index + 1) * part]

    def next_batch(self, *args, **kwargs):
        return tuple(self._rows(x) for x in self._data_set.next_batch(*args, **kwargs))

    @property
    def images(self):
        return self._rows(self._data_set.images)

    @property
    def labels(self):
        return self._rows(self._data_set.labels)

    def __getattr__(self, name):
        return getattr(self._data_set, name)


def local_rows(data_sets, flags):
    """`data_sets` (train, validation, test) as this process feeds them: unchanged outside a cluster."""
    if not in_cluster(flags):
        return data_sets
    return type(data_sets)(*(_LocalRows(d, flags.process_id, flags.num_processes) for d in data_sets))


def _report(prog, exc, message, code, debug, prefix="error: "):
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    sys.stdout.flush()
    print("%s: %s%s" % (prog, prefix, message), file=sys.stderr)
    return code


def describe_os_error(e):
    """`<file>: <what>` of an OSError, without Python's "[Errno N]"."""
    what = e.strerror or str(e)
    if e.filename is not None:
        return "%s: %s" % (e.filename, what)
    return what


# -- run directories
class RunDirectory:
    """The directory one run writes into, and what the run created there.

    `RunDirectory.create(log_dir)` makes a fresh `run-<start time>` directory under log_dir (never an existing
    one, so a run never overwrites or deletes earlier logs), recording which directories it had to create.
    `RunDirectory.existing(path)` is a run being resumed: it records the files already there.
    Until `worked()` is called, a failure (an exception leaving `with run:`) removes what this run created:
    its event files and the directories it made, each only if nothing else is in it. Nothing this run did
    not create is ever deleted.
    """

    def __init__(self, path, created_dirs, files_before):
        self.path = path
        self._created_dirs = created_dirs      # outermost first
        self._files_before = files_before
        self.did_work = False

    @classmethod
    def create(cls, log_dir, flag="--log_dir"):
        stamp = time.strftime("run-%Y%m%d-%H%M%S")
        _refuse_file(log_dir, flag)
        created = []
        try:
            created = _make_dirs(log_dir)
            path, n = os.path.join(log_dir, stamp), 1
            while True:
                try:
                    os.mkdir(path)
                    break
                except FileExistsError:
                    n += 1
                    path = os.path.join(log_dir, "%s-%d" % (stamp, n))
            created.append(path)
        except OSError as e:
            remove_empty_dirs(created)
            blocker = _file_on_the_way(log_dir) if e.errno in (errno.ENOTDIR, errno.EEXIST) else None
            why = ("%s is a file, not a directory" % blocker) if blocker else describe_os_error(e)
            raise CommandError("%s %s: cannot create a run directory there: %s" % (flag, log_dir, why)) from e
        return cls(path, created, set())

    @classmethod
    def existing(cls, path):
        return cls(path, [], set(_files_under(path)))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()   # only when the run did no work; never anything it did not create
        return False

    def worked(self):
        """The run has done work worth keeping (a training step): a failure from now on keeps the run."""
        self.did_work = True

    def discard(self):
        """Removes the event files and directories this run created, if it did no work. Best effort: what
        cannot be removed (or holds anything else) stays."""
        if self.did_work:
            return
        for rel in sorted(set(_files_under(self.path)) - self._files_before, reverse=True):
            if os.path.basename(rel).startswith(EVENTS_PREFIX):
                try:
                    os.remove(os.path.join(self.path, rel))
                except OSError:
                    pass
        if self._created_dirs:   # the writers' subdirectories (train/, test/) first, then ours
            for sub in sorted((d for d, _, _ in os.walk(self.path)), key=len, reverse=True):
                if sub != self.path:
                    _rmdir_quietly(sub)
        remove_empty_dirs(self._created_dirs)


def _make_dirs(path):
    """os.makedirs(path, exist_ok=True) that returns the directories it created, outermost first."""
    created = []
    try:
        for d in missing_dirs(path):
            os.mkdir(d)
            created.append(d)
    except FileExistsError:
        pass   # made meanwhile by somebody else: not ours
    except OSError:
        remove_empty_dirs(created)
        raise
    if not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
    return created


def _file_on_the_way(path):
    """The first part of `path` that exists but is not a directory, or None."""
    parts, head = [], os.path.abspath(path)
    while True:
        parts.append(head)
        parent = os.path.dirname(head)
        if parent == head:
            break
        head = parent
    for p in reversed(parts):
        if os.path.exists(p) and not os.path.isdir(p):
            return p
        if not os.path.exists(p):
            return None
    return None


def _files_under(path):
    out = []
    for root, _, files in os.walk(path):
        out.extend(os.path.relpath(os.path.join(root, f), path) for f in files)
    return out


def _rmdir_quietly(path):
    try:
        os.rmdir(path)     # fails, as it should, when anything is inside
    except OSError:
        pass
