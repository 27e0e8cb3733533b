"""The four MNIST commands off the happy path, as a user meets them.

Each mistake a user can plausibly make ends in one line on stderr, prefixed with the program name,
naming the culprit, with no traceback; exit status 2 for a bad flag (argparse's convention), 1 for
a failure while running, 130 for Ctrl-C. Nothing of the user's is lost and a run that did no work
leaves nothing behind. Command-line behaviour runs the installed console scripts (found next to
sys.executable) in a subprocess; the few cases that need a fault injected (a full disk, a read-only
file system) run main(argv) in this process with the fault monkeypatched in.
"""
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nanotf as tf
from nanotf.examples.tutorials.mnist import (_common, fully_connected_feed, mnist_deep, mnist_softmax,
                                             mnist_with_summaries)

from _tutorial_helpers import run_main, tiny_mnist, write_idx_gz

COMMANDS = {"nanotf-mnist": fully_connected_feed, "nanotf-mnist-softmax": mnist_softmax,
            "nanotf-mnist-deep": mnist_deep, "nanotf-mnist-with-summaries": mnist_with_summaries}


def script(name):
    exe = Path(sys.executable).parent / name
    if not exe.is_file():
        pytest.skip("%s is not installed next to %s (pip install -e .)" % (name, sys.executable))
    return str(exe)


def env_for(tmp_path, **extra):
    env = dict(os.environ, HOME=str(tmp_path / "home"), NANOTF_DATA_DIR=str(tmp_path / "nanotf-data"),
               OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for name in ("KERAS_HOME", _common.DEBUG_ENV):
        env.pop(name, None)
    env.update(extra)
    return env


def run_cli(tmp_path, name, *args, timeout=120, **env):
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run([script(name)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, cwd=str(tmp_path), env=env_for(tmp_path, **env))


def assert_one_line(stderr, prog):
    """Exactly one line, prog-prefixed, and no traceback."""
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith(prog + ": "), stderr
    assert "Traceback" not in stderr


def listing(directory):
    return sorted(str(p.relative_to(directory)) for p in Path(directory).rglob("*"))


# ------------------------------------------------------------ success is exit 0

@pytest.mark.parametrize("name,args", [
    ("nanotf-mnist-softmax", ["--steps", "3"]),
    ("nanotf-mnist-deep", ["--steps", "2", "--log_dir", "runs"]),
    ("nanotf-mnist-with-summaries", ["--max_steps", "2", "--log_dir", "runs"]),
])
def test_successful_runs_exit_0_with_nothing_on_stderr(tmp_path, name, args):
    proc = run_cli(tmp_path, name, "--fake_data", "--seed", "1", *args, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    if name == "nanotf-mnist-softmax":
        assert proc.stdout == "1.0\n"   # the accuracy, printed once, as the tutorial prints it


# ------------------------------------------------------------ bad flags: exit 2, the flag and value alone

@pytest.mark.parametrize("name,args,needles", [
    ("nanotf-mnist", ["--hidden1", "0"], ["--hidden1", "0"]),
    ("nanotf-mnist-softmax", ["--steps", "-1"], ["--steps", "-1"]),
    ("nanotf-mnist-deep", ["--steps", "many"], ["--steps", "'many'"]),
    ("nanotf-mnist-with-summaries", ["--dropout", "0"], ["--dropout", "0"]),
])
def test_a_bad_flag_is_one_line_and_exit_2(tmp_path, name, args, needles):
    proc = run_cli(tmp_path, name, "--fake_data", *args, "--log_dir", tmp_path / "runs")
    assert proc.returncode == 2
    assert_one_line(proc.stderr, name)
    for needle in needles:
        assert needle in proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,flag,value", [
    (["--max_steps", "-5"], "--max_steps", "-5"),
    (["--batch_size", "0"], "--batch_size", "0"),
    (["--batch_size", "-3", "--max_steps", "10"], "--batch_size", "-3"),
    (["--hidden2", "-1"], "--hidden2", "-1"),
    (["--learning_rate", "0"], "--learning_rate", "0"),
    (["--learning_rate", "inf"], "--learning_rate", "inf"),
    (["--seed", "-1"], "--seed", "-1"),
    (["--max_steps", "1e3"], "--max_steps", "1e3"),
    (["--dataset", "cifar"], "--dataset", "cifar"),
    (["--max_step", "5", "--nonsense"], "--nonsense", "--nonsense"),
])
def test_each_bad_value_is_named_alone(args, flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fully_connected_feed.main(["--fake_data"] + args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert_one_line(err, "nanotf-mnist")
    assert ("unrecognized arguments: " if flag == "--nonsense" else "argument %s: " % flag) in err
    assert value in err
    others = {"--max_steps", "--batch_size", "--hidden1", "--hidden2", "--learning_rate", "--seed"} - {flag}
    assert not any(o + " " in err or o + ":" in err for o in others), err


@pytest.mark.parametrize("module,args", [
    (mnist_with_summaries, ["--learning_rate", "-0.1"]),
    (mnist_with_summaries, ["--dropout", "1.5"]),
    (mnist_with_summaries, ["--max_steps", "-2"]),
    (mnist_deep, ["--seed", "x"]),
    (mnist_softmax, ["--steps", "2.5"]),
])
def test_bad_values_of_the_other_commands(module, args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--fake_data"] + args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert_one_line(err, module.PROG)
    assert "argument %s" % args[0] in err and args[1] in err


# ------------------------------------------------------------ --help

@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_says_each_default_once_and_documents_the_environment(tmp_path, name):
    proc = run_cli(tmp_path, name, "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: " + name)
    text = " ".join(proc.stdout.split())
    assert "NANOTF_DATA_DIR" in text and "NANOTF_DEBUG" in text and "--debug" in text
    assert "--data_dir" in text and "--input_data_dir" in text   # TF's name and its alias
    # each option's help block mentions its default at most once
    blocks = proc.stdout.split("\n  -")
    for block in blocks[1:]:
        assert " ".join(block.split()).lower().count("default") <= 1, block


def test_batch_size_help_says_how_a_partial_batch_is_handled():
    text = " ".join(fully_connected_feed.build_parser().format_help().split())
    assert "num_examples // batch_size" in text and "partial batch is left out" in text


@pytest.mark.parametrize("module,primary,alias", [
    (fully_connected_feed, "--input_data_dir", "--data_dir"),
    (mnist_softmax, "--data_dir", "--input_data_dir"),
    (mnist_deep, "--data_dir", "--input_data_dir"),
    (mnist_with_summaries, "--data_dir", "--input_data_dir"),
])
def test_data_dir_flag_and_its_alias(module, primary, alias):
    parser = module.build_parser()
    assert parser.parse_args([primary, "a"]).data_dir == "a"
    assert parser.parse_args([alias, "b"]).data_dir == "b"
    usage = parser.format_usage()
    assert primary in usage   # TensorFlow's own name is the one shown


# ------------------------------------------------------------ runtime failures: exit 1, one line

def test_corrupt_data_file_is_named_in_one_line(tmp_path):
    data = tmp_path / "data"
    write_idx_gz(data, tiny_mnist(60, 10))
    blob = (data / "train-images-idx3-ubyte.gz").read_bytes()
    (data / "train-images-idx3-ubyte.gz").write_bytes(blob[:len(blob) // 2])   # a truncated download
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    proc = run_cli(tmp_path, "nanotf-mnist", "--input_data_dir", data, "--log_dir", tmp_path / "runs")
    assert proc.returncode == 1
    assert_one_line(proc.stderr, "nanotf-mnist")
    assert str(data / "train-images-idx3-ubyte.gz") in proc.stderr and "truncated or corrupt" in proc.stderr
    assert "Delete" in proc.stderr
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before   # the file is the user's to delete
    assert not (tmp_path / "runs").exists()


def test_log_dir_that_is_a_file(tmp_path):
    (tmp_path / "notes").write_text("mine\n")
    proc = run_cli(tmp_path, "nanotf-mnist-with-summaries", "--fake_data", "--max_steps", "2", "--log_dir", "notes")
    assert proc.returncode == 1
    assert_one_line(proc.stderr, "nanotf-mnist-with-summaries")
    assert "--log_dir notes: is a file, not a directory" in proc.stderr
    assert (tmp_path / "notes").read_text() == "mine\n"


def test_log_dir_below_a_file(tmp_path):
    (tmp_path / "notes").write_text("mine\n")
    proc = run_cli(tmp_path, "nanotf-mnist-deep", "--fake_data", "--steps", "1", "--log_dir", "notes/runs/deep")
    assert proc.returncode == 1
    assert_one_line(proc.stderr, "nanotf-mnist-deep")
    assert "--log_dir notes/runs/deep" in proc.stderr and "notes is a file, not a directory" in proc.stderr
    assert listing(tmp_path) == ["home", "notes"]


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "mnist").write_text("mine\n")
    proc = run_cli(tmp_path, "nanotf-mnist-softmax", "--data_dir", "mnist")
    assert proc.returncode == 1
    assert_one_line(proc.stderr, "nanotf-mnist-softmax")
    assert "--data_dir mnist: is a file, not a directory" in proc.stderr


def test_log_dir_on_a_read_only_file_system(tmp_path, monkeypatch, capsys):
    real_mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "ro")):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_mkdir(path, *args, **kwargs)
    monkeypatch.setattr(os, "mkdir", read_only)
    status = mnist_with_summaries.main(["--fake_data", "--max_steps", "1", "--log_dir", str(tmp_path / "ro" / "logs")])
    assert status == 1
    err = capsys.readouterr().err
    assert_one_line(err, "nanotf-mnist-with-summaries")
    assert "--log_dir %s" % (tmp_path / "ro" / "logs") in err and "Read-only file system" in err


def test_batch_size_larger_than_a_set(tmp_path):
    proc = run_cli(tmp_path, "nanotf-mnist", "--fake_data", "--batch_size", "100000", "--log_dir", "runs")
    assert proc.returncode == 1
    assert_one_line(proc.stderr, "nanotf-mnist")
    assert "--batch_size 100000" in proc.stderr and "10000 examples" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_batch_size_that_does_not_divide_the_sets_is_accepted(tmp_path):
    out, failure = run_main(["--fake_data", "--batch_size", "7", "--max_steps", "3", "--log_dir", tmp_path])
    assert failure is None, failure
    # each evaluation runs 10000 // 7 whole batches, leaving the last partial one out, as TF's do_eval does
    assert out.count("  Num examples: %d  " % (10000 // 7 * 7)) == 3


def test_max_steps_0_on_a_fresh_run_creates_nothing(tmp_path):
    out, failure = run_main(["--fake_data", "--max_steps", "0", "--log_dir", tmp_path / "runs"])
    assert failure is None
    assert out == "Nothing to do: --max_steps 0 trains no step (no run directory was created).\n"
    assert "already at step" not in out
    assert not (tmp_path / "runs").exists()


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "notes").write_text("mine\n")
    for extra, env in ((["--debug"], {}), ([], {_common.DEBUG_ENV: "1"})):
        proc = run_cli(tmp_path, "nanotf-mnist", "--fake_data", "--log_dir", "notes", *extra, **env)
        assert proc.returncode == 1
        assert proc.stderr.startswith("Traceback")
        assert proc.stderr.splitlines()[-1] == "nanotf-mnist: error: --log_dir notes: is a file, not a directory"


# ------------------------------------------------------------ nothing lost, nothing left behind

def test_a_run_that_fails_before_any_step_leaves_nothing(tmp_path, monkeypatch, capsys):
    """A failure after the run directory exists but before the first step: the run directory and the log
    directories this run made are removed; a log directory that was there keeps everything in it."""
    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 29.2 GiB for an array with shape (784, 10000000)")
    monkeypatch.setattr(tf, "Session", no_memory)
    monkeypatch.setattr(tf, "InteractiveSession", no_memory)
    new_logs = tmp_path / "new" / "logs"
    assert fully_connected_feed.main(["--fake_data", "--log_dir", str(new_logs)]) == 1
    err = capsys.readouterr().err
    assert_one_line(err, "nanotf-mnist")
    assert "out of memory" in err and "29.2 GiB" in err
    assert not (tmp_path / "new").exists()

    mine = tmp_path / "mine"
    (mine / "old-run").mkdir(parents=True)
    (mine / "old-run" / "events.out.tfevents.1.host").write_bytes(b"old")
    (mine / "notes.txt").write_text("keep\n")
    before = listing(mine)
    assert mnist_with_summaries.main(["--fake_data", "--log_dir", str(mine)]) == 1
    assert listing(mine) == before


def test_disk_full_at_a_checkpoint_keeps_the_previous_one(tmp_path, full_disk):
    """A resumed run whose checkpoint write fails with ENOSPC (as safetensors reports it): one line naming the
    step, the error and the latest checkpoint; that checkpoint and the state file are untouched, the events
    logged are kept, and the run resumes once the disk has room."""
    log_dir = tmp_path / "logs"
    out, failure = run_main(["--fake_data", "--max_steps", "2", "--log_dir", log_dir])
    assert failure is None, failure
    (run_dir,) = log_dir.iterdir()
    first = run_dir / "model.ckpt-1"
    before = {name: (run_dir / name).read_bytes() for name in os.listdir(run_dir)}
    full_disk(True)
    out, failure = run_main(["--fake_data", "--resume", "--max_steps", "4", "--log_dir", log_dir])
    assert failure is not None and failure.status == 1
    assert_one_line(failure.stderr, "nanotf-mnist")
    assert "cannot save the checkpoint of step 3 in %s: No space left on device" % run_dir in failure.stderr
    assert "the latest checkpoint is still %s" % first in failure.stderr
    assert "`nanotf-mnist --resume %s`" % run_dir in failure.stderr
    after = {name: (run_dir / name).read_bytes() for name in os.listdir(run_dir)}
    new = set(after) - set(before)
    assert len(new) == 1 and new.pop().startswith("events.out.tfevents.")   # the resumed run's log, kept
    assert {name: after[name] for name in before} == before   # checkpoint, state file, first log: unchanged
    assert tf.train.latest_checkpoint(str(run_dir)) == str(first)

    full_disk(False)
    out, failure = run_main(["--fake_data", "--resume", "--max_steps", "4", "--log_dir", log_dir])
    assert failure is None, failure
    assert "Resumed %s at step 2" % first in out
    assert tf.train.latest_checkpoint(str(run_dir)) == str(run_dir / "model.ckpt-3")


def test_moved_run_directory_resumes(tmp_path):
    """An absolute --log_dir, then the whole log directory moved: --resume finds the checkpoint at its new place."""
    old, new = tmp_path / "old", tmp_path / "new"
    out, failure = run_main(["--fake_data", "--max_steps", "3", "--log_dir", old])
    assert failure is None
    (run_dir,) = old.iterdir()
    os.rename(str(old), str(new))
    moved = new / run_dir.name
    out, failure = run_main(["--fake_data", "--resume", "--max_steps", "5", "--log_dir", new])
    assert failure is None, failure
    assert "Resumed %s at step 3" % (moved / "model.ckpt-2") in out
    assert tf.train.latest_checkpoint(str(moved)) == str(moved / "model.ckpt-4")
    assert tf.train.get_checkpoint_state(str(moved)).all_model_checkpoint_paths == [
        str(moved / "model.ckpt-2"), str(moved / "model.ckpt-4")]


def test_ctrl_c_names_the_step_and_the_latest_checkpoint_then_resume_continues(tmp_path):
    """SIGINT to a resumed run (so that a checkpoint exists without 1000 steps first): exit 130, one line naming
    the step and the latest checkpoint; the events logged up to then are on disk; --resume continues."""
    assert run_main(["--fake_data", "--max_steps", "2", "--log_dir", tmp_path / "runs"])[1] is None
    (run_dir,) = (tmp_path / "runs").iterdir()
    run_dir = Path("runs") / run_dir.name
    cmd = [script("nanotf-mnist"), "--fake_data", "--resume", "--max_steps", "1000000", "--log_dir", "runs"]
    (tmp_path / "home").mkdir()
    # A test run started in the background (`cmd &`, nohup, some CI shells) has SIGINT ignored, and an ignored
    # signal stays ignored across exec, so the command would never see the Ctrl-C: give it the default action,
    # as a terminal does (through exec, not preexec_fn: this process may have threads)
    cmd = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
           "os.execv(sys.argv[1], sys.argv[1:])"] + [str(c) for c in cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path),
                            env=env_for(tmp_path))
    try:
        deadline = time.time() + 120
        while time.time() < deadline:   # a few hundred steps in, and the summary of step 200 written
            line = proc.stdout.readline()
            if line.startswith("Step 300:") or not line:
                break
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=180)   # generous: a loaded machine
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert_one_line(err, "nanotf-mnist")
    step = int(err.split("at step ")[1].split(";")[0])
    assert step >= 300
    assert "the latest checkpoint is %s" % (run_dir / "model.ckpt-1") in err
    assert "`nanotf-mnist --resume %s`" % run_dir in err
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tmp_path / run_dir))
    acc.Reload()
    assert [e.step for e in acc.Scalars("loss")][:3] == [0, 100, 200]
    proc = run_cli(tmp_path, "nanotf-mnist", "--fake_data", "--resume", str(run_dir), "--max_steps", "5",
                   "--log_dir", "runs")
    assert proc.returncode == 0, proc.stderr
    assert "Resumed %s at step 2" % (run_dir / "model.ckpt-1") in proc.stdout


def test_resume_without_a_checkpoint(tmp_path):
    proc = run_cli(tmp_path, "nanotf-mnist", "--fake_data", "--resume", "--log_dir", "nowhere")
    assert proc.returncode == 1
    assert_one_line(proc.stderr, "nanotf-mnist")
    assert "--resume: no run with a checkpoint under --log_dir nowhere" in proc.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("module,args,says", [
    (mnist_softmax, ["--steps", "10"], "at step 2 of 10; this program keeps nothing"),
    (mnist_deep, ["--steps", "10"], "at step 2 of 10; this program saves no checkpoint"),
    (mnist_with_summaries, ["--max_steps", "10"], "at step 2 of 10; the summaries of the steps before it"),
])
def test_ctrl_c_in_the_other_commands(tmp_path, monkeypatch, capsys, module, args, says):
    """Ctrl-C arriving while the third batch is drawn (simulated in this process)."""
    from nanotf.datasets.mnist import DataSet
    real_next_batch, calls = DataSet.next_batch, []

    def next_batch(self, *a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_next_batch(self, *a, **kw)
    monkeypatch.setattr(DataSet, "next_batch", next_batch)
    status = module.main(["--fake_data", "--log_dir", str(tmp_path / "runs")] + args
                         if module is not mnist_softmax else ["--fake_data"] + args)
    assert status == 130
    err = capsys.readouterr().err
    assert_one_line(err, module.PROG)
    assert err.startswith(module.PROG + ": interrupted (Ctrl-C) " + says), err
    if module is not mnist_softmax:   # steps ran, so the run directory (graph, summaries) is kept
        (run_dir,) = (tmp_path / "runs").iterdir()
        assert str(run_dir) in err


def test_resume_with_other_layer_sizes_or_a_damaged_checkpoint(tmp_path):
    log_dir = tmp_path / "logs"
    assert run_main(["--fake_data", "--max_steps", "2", "--log_dir", log_dir])[1] is None
    (run_dir,) = log_dir.iterdir()
    before = listing(run_dir)
    out, failure = run_main(["--fake_data", "--resume", "--hidden1", "64", "--max_steps", "4", "--log_dir", log_dir])
    assert failure.status == 1
    assert_one_line(failure.stderr, "nanotf-mnist")
    assert "cannot restore %s" % (run_dir / "model.ckpt-1") in failure.stderr
    assert "variable hidden1/" in failure.stderr and "--hidden1" in failure.stderr
    assert listing(run_dir) == before   # the failed resume did no work: its new event file is gone again
    data = run_dir / "model.ckpt-1.safetensors"
    data.write_bytes(data.read_bytes()[:100])
    out, failure = run_main(["--fake_data", "--resume", "--max_steps", "4", "--log_dir", log_dir])
    assert failure.status == 1
    assert_one_line(failure.stderr, "nanotf-mnist")
    assert "cannot restore" in failure.stderr and "corrupted" in failure.stderr and "--hidden1" not in failure.stderr
