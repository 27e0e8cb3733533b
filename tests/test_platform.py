"""tf.app / tf.flags / tf.gfile / tf.logging: TF1-era programs run unchanged.

The command-line tests run small scripts in a subprocess, since flag parsing reads sys.argv and
tf.app.run exits; the in-process tests use private FlagValues registries.
"""
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import nanotf
import nanotf.app
import nanotf.flags
import nanotf.gfile as gfile
import nanotf.logging as tf_logging
from nanotf.framework import errors
from nanotf.platform import flags as flags_impl

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `import nanotf.app` below stays until nanotf/__init__.py exports tf.app itself; it is harmless after.
FULLY_CONNECTED_FEED = """
import nanotf as tf
import nanotf.app
flags = tf.app.flags
FLAGS = flags.FLAGS
flags.DEFINE_float('learning_rate', 0.01, 'Initial learning rate.')
flags.DEFINE_integer('max_steps', 2000, 'Number of steps to run trainer.')
flags.DEFINE_string('train_dir', 'data', 'Directory to put the training data.')
flags.DEFINE_boolean('fake_data', False, 'If true, uses fake data for unit testing.')

def main(argv):
    print(FLAGS.learning_rate, FLAGS.max_steps, FLAGS.train_dir, FLAGS.fake_data)
    print(argv[1:])

if __name__ == '__main__':
    tf.app.run()
"""


def run_script(tmp_path, source, *args):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=60)


# ---- tf.app.run and flags from the command line ----

def test_seed_era_tutorial_flags_and_unparsed_args(tmp_path):
    proc = run_script(tmp_path, FULLY_CONNECTED_FEED, "--max_steps", "5", "--fake_data", "--unknown", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["0.01 5 data True", "['--unknown', 'x']"]


def test_help_lists_every_flag_and_exits_zero(tmp_path):
    proc = run_script(tmp_path, FULLY_CONNECTED_FEED, "--help")
    assert proc.returncode == 0, proc.stderr
    for name, text in [("learning_rate", "Initial learning rate."),
                       ("max_steps", "Number of steps to run trainer."),
                       ("train_dir", "Directory to put the training data."),
                       ("fake_data", "If true, uses fake data for unit testing.")]:
        assert name in proc.stdout and text in proc.stdout
    assert "0.01 " not in proc.stdout  # main never ran


def test_lazy_parse_on_first_access_without_app_run(tmp_path):
    source = """
    import sys
    import nanotf.flags as flags
    flags.DEFINE_integer('batch_size', 100, 'Batch size.')
    flags.DEFINE_string('log_dir', '/tmp/logs', 'Log dir.')
    print(flags.FLAGS.batch_size, flags.FLAGS.log_dir)
    flags.FLAGS.batch_size = 7          # programmatic assignment wins over the command line
    print(flags.FLAGS.batch_size, sorted(flags.FLAGS.__flags.items()))
    """
    proc = run_script(tmp_path, source, "--batch_size=32", "positional", "--other=1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["32 /tmp/logs", "7 [('batch_size', 7), ('log_dir', '/tmp/logs')]"]


def test_argparse_pattern_passes_unparsed_to_main(tmp_path):
    source = """
    import argparse, sys
    import nanotf as tf
    import nanotf.app
    FLAGS = None

    def main(argv):
        print(FLAGS.data_dir, argv[1:])
        return 3

    if __name__ == '__main__':
        parser = argparse.ArgumentParser()
        parser.add_argument('--data_dir', type=str, default='/tmp/data')
        FLAGS, unparsed = parser.parse_known_args()
        tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)
    """
    proc = run_script(tmp_path, source, "--data_dir", "d", "--extra", "3", "file.txt")
    assert proc.returncode == 3, proc.stderr  # sys.exit(main(argv))
    assert proc.stdout.strip() == "d ['--extra', '3', 'file.txt']"


def test_app_run_in_process_exits_with_main_result():
    seen = []

    def main(argv):
        seen.append(argv)
        return 0

    with pytest.raises(SystemExit) as exit_info:
        nanotf.app.run(main=main, argv=["prog", "--not_a_defined_flag=1", "pos"])
    assert exit_info.value.code == 0
    assert seen == [["prog", "--not_a_defined_flag=1", "pos"]]
    assert nanotf.app.flags is nanotf.flags
    assert nanotf.app.flags.FLAGS is flags_impl.FLAGS


# ---- flag parsing on private registries ----

@pytest.fixture
def fv():
    return flags_impl.FlagValues()


def test_boolean_forms(fv):
    flags_impl.DEFINE_boolean("fake", False, "fake data", flag_values=fv)
    flags_impl.DEFINE_bool("check", True, "checks", flag_values=fv)
    cases = [
        (["--fake"], True, []), (["--nofake"], False, []), (["--fake=true"], True, []),
        (["--fake=false"], False, []), (["--fake=1"], True, []), (["--fake=0"], False, []),
        (["--fake=T"], True, []), (["-fake"], True, []), (["--fake", "false"], False, []),
        (["--fake", "True"], True, []), (["--fake", "data.txt"], True, ["data.txt"]),
    ]
    for args, expected, rest in cases:
        fv.unparse_flags()
        assert fv(["prog"] + args) == ["prog"] + rest, args
        assert fv.fake is expected, args
    assert fv(["prog", "--nocheck"]) == ["prog"] and fv.check is False
    with pytest.raises(flags_impl.IllegalFlagValueError, match="fake"):
        fv(["prog", "--fake=maybe"])


def test_value_forms_types_and_remaining_argv(fv):
    flags_impl.DEFINE_integer("steps", 10, "steps", flag_values=fv)
    flags_impl.DEFINE_float("lr", 1, "rate", flag_values=fv)
    flags_impl.DEFINE_string("name", None, "name", flag_values=fv)
    assert fv.lr == 1.0 and isinstance(fv.lr, float)        # defaults go through the parser
    rest = fv(["prog", "a", "--steps", "7", "-lr=-0.5", "--name=", "b", "--", "--steps=99"])
    assert rest == ["prog", "a", "b", "--steps=99"]          # `--` ends flag parsing
    assert (fv.steps, fv.lr, fv.name) == (7, -0.5, "")
    fv(["prog", "--steps=0x10", "--lr", "-1e-3"])
    assert (fv.steps, fv.lr) == (16, -0.001)


def test_parse_errors_name_the_flag(fv):
    flags_impl.DEFINE_integer("steps", 10, "steps", lower_bound=0, flag_values=fv)
    with pytest.raises(flags_impl.IllegalFlagValueError, match="--steps=abc"):
        fv(["prog", "--steps=abc"])
    with pytest.raises(flags_impl.IllegalFlagValueError, match="--steps=-1: must be >= 0"):
        fv(["prog", "--steps=-1"])
    with pytest.raises(flags_impl.IllegalFlagValueError, match="--steps needs a value"):
        fv(["prog", "--steps"])
    with pytest.raises(flags_impl.UnrecognizedFlagError, match="bogus"):
        fv(["prog", "--bogus=1"])
    assert fv(["prog", "--bogus=1"], known_only=True) == ["prog", "--bogus=1"]
    with pytest.raises(TypeError):
        fv("prog --steps=1")
    with pytest.raises(AttributeError, match="undefined_flag"):
        fv.undefined_flag


def test_list_enum_and_multi(fv):
    flags_impl.DEFINE_list("layers", "128,32", "hidden sizes", flag_values=fv)
    flags_impl.DEFINE_enum("mode", "train", ["train", "eval"], "what to do", flag_values=fv)
    flags_impl.DEFINE_multi_integer("seed", [1], "seeds", flag_values=fv)
    assert fv.layers == ["128", "32"] and fv.mode == "train" and fv.seed == [1]
    fv(["prog", "--layers", "a, b,c", "--mode=eval", "--seed=4", "--seed", "5"])
    assert fv.layers == ["a", "b", "c"] and fv.mode == "eval" and fv.seed == [4, 5]
    fv(["prog", "--layers="])
    assert fv.layers == []
    with pytest.raises(flags_impl.IllegalFlagValueError, match="mode.*train\\|eval"):
        fv(["prog", "--mode=test"])
    with pytest.raises(flags_impl.IllegalFlagValueError, match="mode"):
        flags_impl.DEFINE_enum("mode2", "bad", ["train"], "m", flag_values=fv)


def test_flag_table_assignment_and_definitions(fv):
    flags_impl.DEFINE_integer("max_steps", 2000, "steps", flag_values=fv)
    fv(["prog", "--max_steps=5"])
    fv.max_steps = 10
    assert fv.max_steps == 10 and fv.__flags == {"max_steps": 10}
    assert fv.flag_values_dict() == {"max_steps": 10}
    assert fv["max_steps"].default == 2000 and fv["max_steps"].value == 10
    assert "max_steps" in fv and list(fv) == ["max_steps"]
    # Defined after parsing: takes its value from the command line already read.
    flags_impl.DEFINE_string("late", "x", "late flag", flag_values=fv)
    assert fv.late == "x"
    fv(["prog", "--late=y"])
    flags_impl.DEFINE_string("later", "x", "later flag", flag_values=fv)
    assert fv.later == "x" and fv.late == "y"
    fv._parse_flags(["--later=z"])
    flags_impl.DEFINE_integer("latest", 1, "latest", flag_values=fv)
    assert fv.later == "z" and fv.latest == 1


def test_duplicate_definitions_and_tf10_keywords(fv):
    flags_impl.DEFINE_string(flag_name="data_dir", default_value="/tmp", docstring="where", flag_values=fv)
    flags_impl.DEFINE_string("data_dir", "/tmp", "where", flag_values=fv)  # identical: a re-run script
    with pytest.raises(flags_impl.DuplicateFlagError, match="data_dir"):
        flags_impl.DEFINE_string("data_dir", "/other", "where", flag_values=fv)
    assert fv["data_dir"].help == "where"


def test_required_flags(fv):
    flags_impl.DEFINE_string("out", None, "output", flag_values=fv)
    flags_impl.mark_flag_as_required("out", fv)
    with pytest.raises(flags_impl.IllegalFlagValueError, match="--out"):
        fv(["prog"])
    assert fv(["prog", "--out=o"]) == ["prog"] and fv.out == "o"


def test_lazy_parse_reads_sys_argv(fv, monkeypatch):
    flags_impl.DEFINE_integer("steps", 1, "steps", flag_values=fv)
    monkeypatch.setattr(sys, "argv", ["prog", "--steps=42", "--left=1"])
    assert not fv.is_parsed()
    assert fv.steps == 42 and fv.is_parsed()
    assert fv._last_args == ["--steps=42", "--left=1"]


# ---- tf.gfile ----

def test_gfile_directories(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    gfile.MakeDirs(str(deep))
    gfile.MakeDirs(str(deep))  # already there: fine
    assert gfile.IsDirectory(str(deep)) and gfile.Exists(str(deep))
    gfile.MkDir(str(tmp_path / "d"))
    with pytest.raises(errors.AlreadyExistsError):
        gfile.MkDir(str(tmp_path / "d"))
    with pytest.raises(errors.NotFoundError):
        gfile.Mkdir(str(tmp_path / "missing" / "d"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(errors.FailedPreconditionError):
        gfile.MakeDirs(str(tmp_path / "file"))
    assert not gfile.IsDirectory(str(tmp_path / "file"))
    assert gfile.ListDirectory(str(tmp_path)) == ["a", "d", "file"]
    with pytest.raises(errors.NotFoundError):
        gfile.ListDirectory(str(tmp_path / "nope"))
    with pytest.raises(errors.NotFoundError):
        gfile.ListDirectory(str(tmp_path / "file"))
    gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not gfile.Exists(str(tmp_path / "a"))
    with pytest.raises(errors.NotFoundError):
        gfile.DeleteRecursively(str(tmp_path / "a"))
    gfile.DeleteRecursively(str(tmp_path / "file"))  # a single file is deleted too, as in TF
    assert not (tmp_path / "file").exists()


def test_gfile_remove_rename_copy(tmp_path):
    src, dst = tmp_path / "src.txt", tmp_path / "dst.txt"
    src.write_bytes(b"payload")
    gfile.Copy(str(src), str(dst))
    assert dst.read_bytes() == b"payload"
    with pytest.raises(errors.AlreadyExistsError):
        gfile.Copy(str(src), str(dst))
    src.write_bytes(b"new")
    gfile.Copy(src, dst, overwrite=True)  # PathLike accepted
    assert dst.read_bytes() == b"new"
    with pytest.raises(errors.NotFoundError):
        gfile.Copy(str(tmp_path / "nope"), str(tmp_path / "x"))

    moved = tmp_path / "moved.txt"
    gfile.Rename(str(src), str(moved))
    assert not src.exists() and moved.read_bytes() == b"new"
    with pytest.raises(errors.AlreadyExistsError):
        gfile.Rename(str(moved), str(dst))
    gfile.Rename(str(moved), str(dst), overwrite=True)
    assert dst.read_bytes() == b"new" and not moved.exists()
    with pytest.raises(errors.NotFoundError):
        gfile.Rename(str(moved), str(tmp_path / "y"))

    gfile.Remove(str(dst))
    assert not dst.exists()
    with pytest.raises(errors.NotFoundError):
        gfile.Remove(str(dst))
    with pytest.raises(errors.FailedPreconditionError):
        gfile.Remove(str(tmp_path))


def test_gfile_glob_stat_walk(tmp_path):
    for rel in ["x/1.txt", "x/2.txt", "x/.hidden.txt", "x/y/3.txt", "z.bin"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"12345")
    base = str(tmp_path)
    assert gfile.Glob(os.path.join(base, "x", "*.txt")) == [
        os.path.join(base, "x", name) for name in [".hidden.txt", "1.txt", "2.txt"]]
    assert gfile.Glob([os.path.join(base, "*.bin"), os.path.join(base, "x", "y", "*")]) == [
        os.path.join(base, "x", "y", "3.txt"), os.path.join(base, "z.bin")]
    assert gfile.Glob(os.path.join(base, "nope", "*")) == []

    st = gfile.Stat(os.path.join(base, "z.bin"))
    assert st.length == 5 and not st.is_directory
    assert st.mtime_nsec == os.stat(os.path.join(base, "z.bin")).st_mtime_ns
    assert gfile.Stat(base).is_directory
    with pytest.raises(errors.NotFoundError):
        gfile.Stat(os.path.join(base, "nope"))

    walked = list(gfile.Walk(base))
    assert walked == [(base, ["x"], ["z.bin"]),
                      (os.path.join(base, "x"), ["y"], [".hidden.txt", "1.txt", "2.txt"]),
                      (os.path.join(base, "x", "y"), [], ["3.txt"])]
    assert list(gfile.Walk(base, in_order=False)) == walked[::-1]
    assert list(gfile.Walk(os.path.join(base, "nope"))) == []
    pruned = []
    for top, subdirs, _ in gfile.Walk(base):
        pruned.append(top)
        subdirs[:] = []  # in-order walks honour pruning, like os.walk
    assert pruned == [base]


def test_gfile_text_files(tmp_path):
    path = str(tmp_path / "t.txt")
    with gfile.GFile(path, "w") as f:
        f.write("alpha\n")
        f.write(b"beta\n")       # TF's write takes bytes in text mode too
        assert f.size() == 11 and f.tell() == 11
    with gfile.GFile(path, "a") as f:
        f.write("gamma")
    with gfile.Open(path) as f:
        assert f.readline() == "alpha\n"
        assert f.tell() == 6
        assert f.read() == "beta\ngamma"
        f.seek(0)
        assert f.readlines() == ["alpha\n", "beta\n", "gamma"]
        f.seek(-5, 2)
        assert f.read(3) == "gam"
        f.seek(-3, 1)
        assert f.read() == "gamma"
    assert list(gfile.FastGFile(path, "r")) == ["alpha\n", "beta\n", "gamma"]
    with gfile.GFile(path, "r") as f:
        with pytest.raises(errors.PermissionDeniedError):
            f.write("x")
    with gfile.GFile(path, "w") as f:
        with pytest.raises(errors.PermissionDeniedError):
            f.read()
    assert open(path).read() == ""  # 'w' truncated it


def test_gfile_binary_files_and_errors(tmp_path):
    path = str(tmp_path / "b.bin")
    f = gfile.GFile(path, "wb")
    f.write(b"\x00\x01\x02\x03")
    f.write("é")                  # str in binary mode is written as UTF-8
    f.flush()
    assert os.path.getsize(path) == 6
    f.close()
    assert f.closed
    with pytest.raises(ValueError):
        f.write(b"x")
    with gfile.GFile(path, "rb") as f:
        assert f.read(2) == b"\x00\x01" and f.size() == 6
        f.seek(position=4)
        assert f.read() == "é".encode("utf-8")
    missing = gfile.GFile(str(tmp_path / "missing.txt"))  # TF opens lazily: the read fails
    with pytest.raises(errors.NotFoundError, match="missing.txt"):
        missing.read()
    with pytest.raises(errors.NotFoundError):
        gfile.GFile(str(tmp_path / "no_dir" / "f"), "w")
    with pytest.raises(errors.FailedPreconditionError):
        gfile.GFile(str(tmp_path), "r").read()
    with pytest.raises(errors.InvalidArgumentError, match="mode"):
        gfile.GFile(path, "x")


# ---- tf.logging ----

@pytest.fixture
def restore_verbosity():
    logger = logging.getLogger("nanotf")
    saved = logger.level
    yield
    logger.setLevel(saved)


def test_logging_constants():
    assert (tf_logging.DEBUG, tf_logging.INFO, tf_logging.WARN, tf_logging.WARNING,
            tf_logging.ERROR, tf_logging.FATAL) == (10, 20, 30, 30, 40, 50)


def test_logging_levels_and_caller(caplog, restore_verbosity):
    caplog.set_level(logging.DEBUG)  # the capture handler takes everything; verbosity filters
    tf_logging.set_verbosity(tf_logging.INFO)
    assert tf_logging.get_verbosity() == 20
    tf_logging.debug("dropped")
    tf_logging.info("step %d", 5)
    tf_logging.warning("w")
    tf_logging.warn("w2")
    tf_logging.error("e")
    tf_logging.fatal("f")
    tf_logging.log(tf_logging.INFO, "via log")
    tf_logging.vlog(tf_logging.DEBUG, "dropped too")
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name == "nanotf"]
    assert records == [("nanotf", 20, "step 5"), ("nanotf", 30, "w"), ("nanotf", 30, "w2"),
                       ("nanotf", 40, "e"), ("nanotf", 50, "f"), ("nanotf", 20, "via log")]
    assert all(r.filename == "test_platform.py" for r in caplog.records if r.name == "nanotf")
    caplog.clear()
    tf_logging.set_verbosity(tf_logging.ERROR)
    tf_logging.warning("quiet")
    logging.getLogger("nanotf.training.saver").warning("child quiet too")
    assert caplog.records == []


def test_log_every_n_and_first_n(caplog, restore_verbosity):
    caplog.set_level(logging.DEBUG)
    tf_logging.set_verbosity(tf_logging.DEBUG)
    for i in range(7):
        tf_logging.log_every_n(tf_logging.INFO, "every %d", 3, i)
    for i in range(5):
        tf_logging.log_first_n(tf_logging.INFO, "first %d", 2, i)
    tf_logging.log_if(tf_logging.INFO, "if %s", False, "no")
    tf_logging.log_if(tf_logging.INFO, "if %s", True, "yes")
    assert [r.getMessage() for r in caplog.records if r.name == "nanotf"] == [
        "every 0", "every 3", "every 6", "first 0", "first 1", "if yes"]


def test_logging_default_verbosity_and_stderr_format(tmp_path):
    source = """
    import nanotf.logging as logging
    print(logging.get_verbosity())
    logging.info('not shown by default')
    logging.warning('careful: %s', 'x')
    logging.set_verbosity(logging.INFO)
    logging.info('now shown')
    """
    proc = run_script(tmp_path, source)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "30"
    assert proc.stderr.splitlines() == ["WARNING:nanotf:careful: x", "INFO:nanotf:now shown"]


def test_package_named_logging_does_not_shadow_stdlib():
    import nanotf.training.saver as saver
    assert saver.logging is logging and tf_logging is not logging
    assert sys.modules["logging"] is logging
