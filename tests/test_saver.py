"""tf.train.Saver and the checkpoint state file, checked against hand-written expectations."""
import logging
import os

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import nanotf as tf
from nanotf.training import checkpoint_management as cm
from nanotf.training import saver as saver_mod

W = np.arange(12, dtype=np.float32).reshape(4, 3) / 7.0
B = np.array([0.5, -1.25, 3.0], dtype=np.float32)


def build(w=None, b=None, step=0, step_dtype=tf.int64, **saver_kw):
    """The tutorial's variable names in the current default graph; returns (vars dict, saver)."""
    with tf.name_scope("hidden1"):
        weights = tf.Variable(np.zeros((4, 3), np.float32) if w is None else w, name="weights")
        biases = tf.Variable(np.zeros(3, np.float32) if b is None else b, name="biases")
    global_step = tf.Variable(np.array(step, step_dtype.as_numpy_dtype), name="global_step", trainable=False)
    counter = tf.Variable(np.int32(-3), name="counter")
    saver = tf.train.Saver(**saver_kw)
    return {"weights": weights, "biases": biases, "global_step": global_step, "counter": counter}, saver


def trained_session(**saver_kw):
    """A session whose variables hold W, B, step 7; returns (vars, saver, sess)."""
    v, saver = build(W, B, 7, **saver_kw)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return v, saver, sess


def saved_checkpoint(tmp_path, **saver_kw):
    with tf.Graph().as_default():
        v, saver, sess = trained_session(**saver_kw)
        return saver.save(sess, str(tmp_path / "model.ckpt"), global_step=v["global_step"])


def save_steps(saver, sess, directory, steps):
    """Saves directory/m-<step> for each step, in turn."""
    for step in steps:
        saver.save(sess, os.path.join(directory, "m"), global_step=step)


def state_text(directory):
    with open(os.path.join(str(directory), "checkpoint"), encoding="utf-8") as f:
        return f.read()


def test_round_trip_in_fresh_graph_without_init_op(tmp_path, graph):
    prefix = saved_checkpoint(tmp_path)
    assert prefix == str(tmp_path / "model.ckpt-7")
    v, saver = build()
    sess = tf.Session()
    saver.restore(sess, prefix)   # no initializer run: restoring initializes
    w, b, step, counter = sess.run([v["weights"], v["biases"], v["global_step"], v["counter"]])
    np.testing.assert_array_equal(w, W)
    assert w.dtype == np.float32 and w.shape == (4, 3)
    np.testing.assert_array_equal(b, B)
    assert np.shape(step) == () and np.asarray(step).dtype == np.int64 and step == 7
    assert np.shape(counter) == () and np.asarray(counter).dtype == np.int32 and counter == -3


def test_data_file_is_plain_safetensors_with_metadata(tmp_path):
    prefix = saved_checkpoint(tmp_path)
    path = prefix + ".safetensors"
    loaded = safetensors.numpy.load_file(path)
    assert sorted(loaded) == ["counter", "global_step", "hidden1/biases", "hidden1/weights"]
    np.testing.assert_array_equal(loaded["hidden1/weights"], W)
    assert loaded["global_step"].shape == () and loaded["global_step"].dtype == np.int64
    assert loaded["counter"].shape == () and loaded["counter"].dtype == np.int32
    with safetensors.safe_open(path, framework="np") as f:
        meta = f.metadata()
    assert meta["global_step"] == "7" and meta["format_version"] == "1"
    # The header is JSON after an 8-byte little-endian length, as the safetensors spec says.
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and n + 8 <= len(raw)


def test_save_scope_in_graph_and_restore_adds_no_ops(tmp_path, graph):
    prefix = saved_checkpoint(tmp_path)
    v, saver = build()
    names = {op.name: op.type for op in graph.get_operations() if op.name.startswith("save/")}
    assert names["save/Const"] == "Const"
    assert names["save/restore_all"] == "NoOp"
    assigns = sorted(n for n, t in names.items() if t == "Assign")
    assert assigns == ["save/Assign", "save/Assign_1", "save/Assign_2", "save/Assign_3"]
    # Restore ops in checkpoint-key order, as TensorFlow orders them.
    targets = [graph.get_operation_by_name(n).inputs[0].op.name for n in
               ("save/Assign", "save/Assign_1", "save/Assign_2", "save/Assign_3")]
    assert targets == ["counter", "global_step", "hidden1/biases", "hidden1/weights"]
    n_ops = len(graph.get_operations())
    sess = tf.Session()
    saver.restore(sess, prefix)
    saver.restore(sess, prefix)
    saver.save(sess, str(tmp_path / "again"))
    assert len(graph.get_operations()) == n_ops
    # A second Saver gets its own scope.
    tf.train.Saver(name=None)
    assert graph.get_operation_by_name("save_1/restore_all").type == "NoOp"


def test_state_file_text_relative_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("ckpts")
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        assert saver.save(sess, "ckpts/model.ckpt", global_step=999) == "ckpts/model.ckpt-999"
        assert saver.save(sess, "ckpts/model.ckpt", global_step=1999) == "ckpts/model.ckpt-1999"
    assert state_text("ckpts") == ('model_checkpoint_path: "model.ckpt-1999"\n'
                                   'all_model_checkpoint_paths: "model.ckpt-999"\n'
                                   'all_model_checkpoint_paths: "model.ckpt-1999"\n')
    state = tf.train.get_checkpoint_state("ckpts")
    assert state.model_checkpoint_path == os.path.join("ckpts", "model.ckpt-1999")
    assert state.all_model_checkpoint_paths == [os.path.join("ckpts", "model.ckpt-999"),
                                                os.path.join("ckpts", "model.ckpt-1999")]
    assert tf.train.latest_checkpoint("ckpts") == os.path.join("ckpts", "model.ckpt-1999")


def test_state_file_text_absolute_dir(tmp_path):
    """Saved with an absolute path, the state file still lists the checkpoints relative to its folder (TF's
    save_relative_paths format), so the directory can move; readers get absolute paths back."""
    d = str(tmp_path)
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        saver.save(sess, os.path.join(d, "model.ckpt"), global_step=1)
        saver.save(sess, os.path.join(d, "model.ckpt"), global_step=2)
    a, b = os.path.join(d, "model.ckpt-1"), os.path.join(d, "model.ckpt-2")
    assert state_text(d) == ('model_checkpoint_path: "model.ckpt-2"\nall_model_checkpoint_paths: "model.ckpt-1"\n'
                             'all_model_checkpoint_paths: "model.ckpt-2"\n')
    assert tf.train.latest_checkpoint(d) == b
    assert tf.train.get_checkpoint_state(d).all_model_checkpoint_paths == [a, b]


def test_moved_directory_resumes(tmp_path):
    """A directory moved after saving: its checkpoints are found at their new place."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        saver.save(sess, str(old / "model.ckpt"), global_step=1)
        saver.save(sess, str(old / "model.ckpt"), global_step=2)
    os.rename(str(old), str(new))
    assert tf.train.latest_checkpoint(str(new)) == str(new / "model.ckpt-2")
    state = tf.train.get_checkpoint_state(str(new))
    assert state.all_model_checkpoint_paths == [str(new / "model.ckpt-1"), str(new / "model.ckpt-2")]
    with tf.Graph().as_default():
        v, saver = build()
        sess = tf.Session()
        saver.restore(sess, tf.train.latest_checkpoint(str(new)))
        np.testing.assert_array_equal(sess.run(v["weights"]), W)


def test_moved_directory_with_absolute_paths_in_the_state_file(tmp_path):
    """A state file listing absolute paths (as TensorFlow writes it) in a moved directory: each listed path
    whose file is gone falls back to the file of that name beside the state file; a path whose file still
    exists is kept as it is, and one found nowhere stays as listed (latest_checkpoint then says None)."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        for step in (1, 2):
            saver.save(sess, str(old / "m"), global_step=step)
    elsewhere = tmp_path / "elsewhere-3"
    elsewhere.with_suffix(".safetensors").write_bytes((old / "m-1.safetensors").read_bytes())
    tf.train.update_checkpoint_state(str(old), str(old / "m-2"), [str(elsewhere), str(old / "m-1"),
                                                                  str(old / "m-2")])
    assert state_text(old).startswith('model_checkpoint_path: "%s"' % (old / "m-2"))   # TF's absolute form
    os.rename(str(old), str(new))
    state = tf.train.get_checkpoint_state(str(new))
    assert state.model_checkpoint_path == str(new / "m-2")
    assert state.all_model_checkpoint_paths == [str(elsewhere), str(new / "m-1"), str(new / "m-2")]
    assert tf.train.latest_checkpoint(str(new)) == str(new / "m-2")
    os.remove(str(new / "m-2.safetensors"))
    assert tf.train.get_checkpoint_state(str(new)).model_checkpoint_path == str(old / "m-2")
    assert tf.train.latest_checkpoint(str(new)) is None


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, full_disk, graph):
    """The data file's write fails with ENOSPC (as safetensors reports it): save raises OSError with the errno,
    and the previous checkpoint, the state file and the directory listing are exactly as before."""
    import errno
    d = str(tmp_path)
    v, saver, sess = trained_session()
    first = saver.save(sess, os.path.join(d, "m"), global_step=1)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(d)}
    full_disk(True)
    with pytest.raises(OSError) as err:
        saver.save(sess, os.path.join(d, "m"), global_step=2)
    assert err.value.errno == errno.ENOSPC and "No space left" in str(err.value)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(d)} == before
    assert tf.train.latest_checkpoint(d) == first
    assert saver.last_checkpoints == [first]


def test_state_file_write_failure_drops_the_new_data_file(tmp_path, monkeypatch):
    """The data file is written but the state file cannot be (disk full): the new data file, which no state
    file lists, is removed again, and the previous state stays."""
    import errno
    d = str(tmp_path)
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        first = saver.save(sess, os.path.join(d, "m"), global_step=1)
        before = {name: (tmp_path / name).read_bytes() for name in os.listdir(d)}

        def no_space(path, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        monkeypatch.setattr(cm, "_write_text", no_space)
        with pytest.raises(OSError):
            saver.save(sess, os.path.join(d, "m"), global_step=2)
        assert {name: (tmp_path / name).read_bytes() for name in os.listdir(d)} == before
        assert saver.last_checkpoints == [first]
        monkeypatch.undo()
        assert saver.save(sess, os.path.join(d, "m"), global_step=3) == os.path.join(d, "m-3")
    assert tf.train.get_checkpoint_state(d).all_model_checkpoint_paths == [first, os.path.join(d, "m-3")]


def test_save_relative_paths_with_absolute_dir(tmp_path):
    with tf.Graph().as_default():
        v, saver, sess = trained_session(save_relative_paths=True)
        saver.save(sess, str(tmp_path / "m"), global_step=3)
    assert state_text(tmp_path) == 'model_checkpoint_path: "m-3"\nall_model_checkpoint_paths: "m-3"\n'
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "m-3")


def test_seed_era_directory_save_path(tmp_path, monkeypatch):
    """saver.save(sess, FLAGS.train_dir, global_step=step): files beside the directory, state file in its parent."""
    train_dir = tmp_path / "data"
    train_dir.mkdir()
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        prefix = saver.save(sess, str(train_dir), global_step=1999)
        assert prefix == str(train_dir) + "-1999"
        assert os.path.isfile(str(tmp_path / "data-1999.safetensors"))
        assert os.listdir(str(train_dir)) == []
        assert state_text(tmp_path) == ('model_checkpoint_path: "data-1999"\n'
                                        'all_model_checkpoint_paths: "data-1999"\n')
        assert tf.train.latest_checkpoint(str(tmp_path)) == prefix
        # The seed's saver.restore(sess, FLAGS.train_dir) names a directory: say what to pass instead.
        with pytest.raises(tf.errors.NotFoundError) as err:
            saver.restore(sess, str(train_dir))
        assert "latest_checkpoint" in str(err.value) and prefix in str(err.value)
        assert isinstance(err.value, ValueError)   # what later TF 1.x raises
    # Relative, as FLAGS.train_dir often is: the state file lands in the working directory.
    monkeypatch.chdir(train_dir)
    os.mkdir("run")
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        assert saver.save(sess, "run", global_step=5) == "run-5"
    assert state_text(train_dir) == 'model_checkpoint_path: "run-5"\nall_model_checkpoint_paths: "run-5"\n'
    assert tf.train.latest_checkpoint("") == "run-5"


def test_max_to_keep_deletes_oldest(tmp_path):
    d = str(tmp_path)
    with tf.Graph().as_default():
        v, saver, sess = trained_session(max_to_keep=2)
        save_steps(saver, sess, d, (1, 2, 3))
        assert saver.last_checkpoints == [os.path.join(d, "m-2"), os.path.join(d, "m-3")]
        assert sorted(os.listdir(d)) == ["checkpoint", "m-2.safetensors", "m-3.safetensors"]
        # Saving the same prefix again moves it to the end instead of listing it twice.
        saver.save(sess, os.path.join(d, "m"), global_step=2)
        assert saver.last_checkpoints == [os.path.join(d, "m-3"), os.path.join(d, "m-2")]
        saver.save(sess, os.path.join(d, "m"), global_step=4)
    assert sorted(os.listdir(d)) == ["checkpoint", "m-2.safetensors", "m-4.safetensors"]
    state = tf.train.get_checkpoint_state(d)
    assert state.all_model_checkpoint_paths == [os.path.join(d, "m-2"), os.path.join(d, "m-4")]


@pytest.mark.parametrize("keep", [None, 0])
def test_max_to_keep_none_keeps_all_and_lists_latest_only(tmp_path, keep):
    d = str(tmp_path)
    with tf.Graph().as_default():
        v, saver, sess = trained_session(max_to_keep=keep)
        save_steps(saver, sess, d, range(1, 8))
        assert saver.last_checkpoints == []
    assert len([f for f in os.listdir(d) if f.endswith(".safetensors")]) == 7
    assert state_text(d) == 'model_checkpoint_path: "m-7"\nall_model_checkpoint_paths: "m-7"\n'
    assert tf.train.latest_checkpoint(d) == os.path.join(d, "m-7")


def test_keep_checkpoint_every_n_hours(tmp_path, monkeypatch, graph):
    clock = {"now": 0.0}
    monkeypatch.setattr(saver_mod.time, "time", lambda: clock["now"])
    d = str(tmp_path)
    v, saver, sess = trained_session(max_to_keep=1, keep_checkpoint_every_n_hours=1)  # next keep: t > 3600
    for step, t in [(1, 0), (2, 1000), (3, 4000), (4, 5000), (5, 6000), (6, 7300), (7, 7400)]:
        clock["now"] = float(t)
        saver.save(sess, os.path.join(d, "m"), global_step=step)
    # Pushed out: 1 (t=0) deleted, 2 (1000) deleted, 3 (4000 > 3600) kept -> next 7200,
    # 4 (5000) deleted, 5 (6000) deleted, 6 (7300 > 7200) kept; 7 is the kept latest.
    assert sorted(os.listdir(d)) == ["checkpoint", "m-3.safetensors", "m-6.safetensors", "m-7.safetensors"]


def test_recover_last_checkpoints_resumes_deletion(tmp_path):
    d = str(tmp_path)
    with tf.Graph().as_default():
        v, saver, sess = trained_session(max_to_keep=3)
        save_steps(saver, sess, d, (1, 2, 3))
    with tf.Graph().as_default():   # a resumed run
        v, saver, sess = trained_session(max_to_keep=3)
        state = tf.train.get_checkpoint_state(d)
        saver.recover_last_checkpoints(state.all_model_checkpoint_paths + [os.path.join(d, "gone")])
        assert saver.last_checkpoints == [os.path.join(d, "m-%d" % i) for i in (1, 2, 3)]
        saver.save(sess, os.path.join(d, "m"), global_step=4)
    assert sorted(os.listdir(d)) == ["checkpoint", "m-2.safetensors", "m-3.safetensors", "m-4.safetensors"]
    assert tf.train.get_checkpoint_state(d).all_model_checkpoint_paths == [
        os.path.join(d, "m-%d" % i) for i in (2, 3, 4)]


def test_global_step_forms_and_padding(tmp_path, graph):
    d = str(tmp_path)
    v, saver, sess = trained_session(pad_step_number=True)
    assert saver.save(sess, os.path.join(d, "a"), global_step=np.int64(12)) == os.path.join(d, "a-00000012")
    t = tf.constant(40) + 2
    assert saver.save(sess, os.path.join(d, "b"), global_step=t) == os.path.join(d, "b-00000042")
    assert saver.save(sess, os.path.join(d, "c"), global_step=v["global_step"]) == os.path.join(d, "c-00000007")
    assert saver.save(sess, os.path.join(d, "plain")) == os.path.join(d, "plain")
    with pytest.raises(TypeError, match="global_step"):
        saver.save(sess, os.path.join(d, "e"), global_step=1.5)
    with pytest.raises(TypeError, match="integer scalar"):
        saver.save(sess, os.path.join(d, "e"), global_step=v["weights"])
    with safetensors.safe_open(os.path.join(d, "plain.safetensors"), framework="np") as f:
        assert "global_step" not in f.metadata()


def test_restore_missing_file(tmp_path, graph):
    v, saver = build()
    missing = str(tmp_path / "nope.ckpt-3")
    with pytest.raises(tf.errors.NotFoundError) as err:
        saver.restore(tf.Session(), missing)
    assert missing in str(err.value) and "latest_checkpoint" in str(err.value)


def test_restore_missing_variable_names_it(tmp_path):
    with tf.Graph().as_default():
        tf.Variable(np.float32(1.0), name="other")
        prefix = tf.train.Saver().save(_initialized_session(), str(tmp_path / "x"))
    with tf.Graph().as_default():
        v, saver = build()
        sess = tf.Session()
        with pytest.raises(tf.errors.NotFoundError, match="Key counter not found in checkpoint"):
            saver.restore(sess, prefix)
        # Nothing was assigned: the variables are still uninitialized.
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(v["global_step"])


def _initialized_session():
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return sess


def test_restore_shape_mismatch(tmp_path, graph):
    prefix = saved_checkpoint(tmp_path)
    with tf.name_scope("hidden1"):
        tf.Variable(np.zeros((3, 4), np.float32), name="weights")
    saver = tf.train.Saver()
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        saver.restore(tf.Session(), prefix)
    msg = str(err.value)
    assert "hidden1/weights" in msg and "(3, 4)" in msg and "[4, 3]" in msg


def test_restore_with_reshape(tmp_path, graph):
    prefix = saved_checkpoint(tmp_path)
    with tf.name_scope("hidden1"):
        w = tf.Variable(np.zeros((3, 4), np.float32), name="weights")
    saver = tf.train.Saver([w], reshape=True)
    sess = tf.Session()
    saver.restore(sess, prefix)
    np.testing.assert_array_equal(sess.run(w), W.reshape(3, 4))


def test_restore_dtype_mismatch(tmp_path, graph):
    prefix = saved_checkpoint(tmp_path)   # global_step saved as int64
    gs = tf.Variable(np.int32(0), name="global_step")
    saver = tf.train.Saver([gs])
    with pytest.raises(tf.errors.InvalidArgumentError) as err:
        saver.restore(tf.Session(), prefix)
    msg = str(err.value)
    assert "global_step" in msg and "int32" in msg and "int64" in msg


def test_restore_corrupt_file_is_data_loss(tmp_path, graph):
    with open(str(tmp_path / "bad.safetensors"), "wb") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    v, saver = build()
    with pytest.raises(tf.errors.DataLossError, match="bad"):
        saver.restore(tf.Session(), str(tmp_path / "bad"))


def test_var_list_forms_and_errors(tmp_path):
    with tf.Graph().as_default():
        a = tf.Variable(np.float32(2.5), name="a")
        b = tf.Variable(np.arange(3, dtype=np.int64), name="b")
        sess = _initialized_session()
        prefix = tf.train.Saver({"renamed/a": a, "b": b}).save(sess, str(tmp_path / "d"))
        assert sorted(safetensors.numpy.load_file(prefix + ".safetensors")) == ["b", "renamed/a"]
        # One variable listed twice (as Variable and as its tensor) is saved once.
        twice = tf.train.Saver([a, a._variable, b])
        assert len(safetensors.numpy.load_file(twice.save(sess, str(tmp_path / "t")) + ".safetensors")) == 2
        with pytest.raises(TypeError, match="not a Variable"):
            tf.train.Saver([a, tf.constant(1.0)])
        with pytest.raises(TypeError, match="dict or a list"):
            tf.train.Saver(a)
    with tf.Graph().as_default():
        c = tf.Variable(np.float32(0), name="c")
        saver = tf.train.Saver({"renamed/a": c})
        sess = tf.Session()
        saver.restore(sess, prefix)
        assert sess.run(c) == np.float32(2.5)


def test_no_variables_and_allow_empty(tmp_path, graph):
    with pytest.raises(ValueError, match="No variables to save"):
        tf.train.Saver()
    saver = tf.train.Saver(allow_empty=True)
    sess = tf.Session()
    assert saver.save(sess, str(tmp_path / "empty")) is None
    assert not os.path.exists(str(tmp_path / "checkpoint"))


def test_save_path_errors(tmp_path):
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        missing = str(tmp_path / "no_such_dir" / "model.ckpt")
        with pytest.raises(ValueError, match="Parent directory of .* doesn't exist, can't save."):
            saver.save(sess, missing, global_step=1)
        with pytest.raises(ValueError, match="collides"):
            saver.save(sess, str(tmp_path / "checkpoint"))
        with pytest.raises(ValueError, match="path components"):
            saver.save(sess, str(tmp_path / "m"), latest_filename="sub/state")
        with pytest.raises(TypeError, match="must be a Session"):
            saver.save("not a session", str(tmp_path / "m"))
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="different graph"):
            saver.save(tf.Session(), str(tmp_path / "m"))


def test_defer_build(tmp_path, graph):
    saver = tf.train.Saver(defer_build=True)
    a = tf.Variable(np.float32(4.0), name="a")
    sess = _initialized_session()
    with pytest.raises(RuntimeError, match="build"):
        saver.save(sess, str(tmp_path / "m"))
    saver.build()
    assert graph.get_operation_by_name("save/restore_all") is not None
    prefix = saver.save(sess, str(tmp_path / "m"))
    np.testing.assert_array_equal(safetensors.numpy.load_file(prefix + ".safetensors")["a"], np.float32(4.0))
    assert a.name == "a:0"


def test_latest_filename_custom(tmp_path):
    with tf.Graph().as_default():
        v, saver, sess = trained_session()
        p = saver.save(sess, str(tmp_path / "m"), global_step=1, latest_filename="state")
    assert not os.path.exists(str(tmp_path / "checkpoint"))
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path), latest_filename="state") == p


def test_latest_checkpoint_requires_data_file(tmp_path):
    d = str(tmp_path)
    assert tf.train.latest_checkpoint(d) is None
    assert tf.train.get_checkpoint_state(d) is None
    prefix = saved_checkpoint(tmp_path)
    assert tf.train.checkpoint_exists(prefix)
    os.remove(prefix + ".safetensors")
    assert not tf.train.checkpoint_exists(prefix)
    assert tf.train.latest_checkpoint(d) is None


def test_get_checkpoint_state_corrupt_file_warns(tmp_path, caplog):
    with open(str(tmp_path / "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "m-1"\nthis is not a checkpoint state\n')
    with caplog.at_level(logging.WARNING):
        assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    assert "Checkpoint ignored" in caplog.text
    with open(str(tmp_path / "checkpoint"), "w") as f:
        f.write('bogus_field: "x"\n')
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None


def test_state_text_escaping_and_parsing(tmp_path):
    d = str(tmp_path)
    odd = os.path.join(d, 'we"ird\\na\u00e9me')
    tf.train.update_checkpoint_state(d, odd, [os.path.join(d, "old"), odd])
    # Protobuf text format: \" and \\ escaped, UTF-8 bytes of U+00E9 (C3 A9) as octal.
    escaped = os.path.join(d, 'we\\"ird\\\\na\\303\\251me')
    assert state_text(d) == ('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n'
                             'all_model_checkpoint_paths: "%s"\n' % (escaped, os.path.join(d, "old"), escaped))
    state = tf.train.get_checkpoint_state(d)
    assert state.model_checkpoint_path == odd
    assert state.all_model_checkpoint_paths == [os.path.join(d, "old"), odd]
    # Files written by TensorFlow 1.13+ also carry timestamps; comments and spacing vary.
    with open(os.path.join(d, "checkpoint"), "w") as f:
        f.write('# written by TF\nmodel_checkpoint_path:"m-2"\nall_model_checkpoint_paths: "m-1"\n'
                "all_model_checkpoint_paths: 'm-2'\nall_model_checkpoint_timestamps: 1554825410.5\n"
                "all_model_checkpoint_timestamps: 1554825420.25\nlast_preserved_timestamp: 1554825400.0\n")
    state = tf.train.get_checkpoint_state(d)
    assert state.model_checkpoint_path == os.path.join(d, "m-2")
    assert state.all_model_checkpoint_timestamps == [1554825410.5, 1554825420.25]
    assert state.last_preserved_timestamp == 1554825400.0


def test_update_checkpoint_state_conflict(tmp_path):
    with pytest.raises(RuntimeError, match="conflicts"):
        tf.train.update_checkpoint_state(str(tmp_path), str(tmp_path / "checkpoint"))


def test_failed_data_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    d = str(tmp_path)
    with tf.Graph().as_default():
        v, saver, sess = trained_session(max_to_keep=1)
        good = saver.save(sess, os.path.join(d, "m"), global_step=1)
        sess.run(v["weights"].assign(np.full((4, 3), 9.0, np.float32)))

        def half_write(tensors, filename, metadata=None):
            with open(filename, "wb") as f:
                f.write(b"\x40\x00\x00\x00\x00\x00\x00\x00{\"hidden1/wei")   # then the disk fills up
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(safetensors.numpy, "save_file", half_write)
        with pytest.raises(OSError, match="No space"):
            saver.save(sess, os.path.join(d, "m"), global_step=2)
    assert sorted(os.listdir(d)) == ["checkpoint", "m-1.safetensors"]   # no partial file, no temp file
    assert tf.train.latest_checkpoint(d) == good
    _assert_restores_w(good, W)


def test_failed_state_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    d = str(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if os.path.basename(dst) == "checkpoint" and "m-2" in open(src).read():
            raise OSError(5, "Input/output error")
        real_replace(src, dst)
    with tf.Graph().as_default():
        v, saver, sess = trained_session(max_to_keep=1)
        good = saver.save(sess, os.path.join(d, "m"), global_step=1)
        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(OSError, match="Input/output"):
            saver.save(sess, os.path.join(d, "m"), global_step=2)
    # m-1 is still listed, so it must not have been deleted; m-2, which no state file lists, is removed again
    # (on a full disk that frees the space the next save needs).
    assert sorted(os.listdir(d)) == ["checkpoint", "m-1.safetensors"]
    assert tf.train.latest_checkpoint(d) == good
    _assert_restores_w(good, W)


def _assert_restores_w(prefix, expected):
    with tf.Graph().as_default():
        v, saver = build()
        sess = tf.Session()
        saver.restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(v["weights"]), expected)


def test_restore_from_data_file_name_and_overwrite_initialized(tmp_path, graph):
    prefix = saved_checkpoint(tmp_path)
    v, saver = build(np.ones((4, 3), np.float32))
    sess = _initialized_session()
    saver.restore(sess, prefix + cm.DATA_SUFFIX)
    np.testing.assert_array_equal(sess.run(v["weights"]), W)
