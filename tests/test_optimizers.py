"""tf.train optimizers, the global step and learning-rate schedules, checked against NumPy
re-computations of TF1's update formulas (not against nanotf itself)."""
import math

import numpy as np
import pytest

import nanotf as tf

W0 = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
A = np.array([[1.0, 2.0], [0.5, 3.0], [1.5, 0.2]])      # loss = 0.5 * sum(A * w^2) + sum(C * w)
C = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.6]])     # so grad = A * w + C changes every step


def _grad(w):
    return A * w + C


def _f32(*values):
    """Python hyper-parameters become float32 constants in TF (then are cast to the variable's dtype)."""
    return [float(np.float32(v)) for v in values]


# -- NumPy reference implementations of TF1's update rules (float64), one step per call
class RefGD:
    def __init__(self, lr):
        self.lr, = _f32(lr)

    def step(self, w, g):
        return w - self.lr * g


class RefMomentum:
    def __init__(self, lr, momentum, nesterov=False):
        self.lr, self.mu = _f32(lr, momentum)
        self.nesterov, self.accum = nesterov, np.zeros_like(W0)

    def step(self, w, g):
        self.accum = self.mu * self.accum + g
        if self.nesterov:
            return w - self.lr * (g + self.mu * self.accum)
        return w - self.lr * self.accum


class RefAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = _f32(lr, beta1, beta2, eps)
        self.m, self.v = np.zeros_like(W0), np.zeros_like(W0)
        self.b1_power, self.b2_power = np.float32(beta1), np.float32(beta2)   # float32 variables in TF

    def step(self, w, g):
        b1p, b2p = float(self.b1_power), float(self.b2_power)
        lr_t = self.lr * math.sqrt(1 - b2p) / (1 - b1p)
        self.b1_power *= np.float32(self.b1)
        self.b2_power *= np.float32(self.b2)
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        return w - lr_t * self.m / (np.sqrt(self.v) + self.eps)


class RefAdagrad:
    def __init__(self, lr, init=0.1):
        self.lr, = _f32(lr)
        self.accum = np.full_like(W0, init)   # the slot is filled in the variable's dtype

    def step(self, w, g):
        self.accum = self.accum + g * g
        return w - self.lr * g / np.sqrt(self.accum)


class RefRMSProp:
    def __init__(self, lr, decay=0.9, momentum=0.0, eps=1e-10, centered=False):
        self.lr, self.decay, self.mu, self.eps = _f32(lr, decay, momentum, eps)
        self.centered = centered
        self.ms, self.mg, self.mom = np.ones_like(W0), np.zeros_like(W0), np.zeros_like(W0)   # TF1: ms starts at 1

    def step(self, w, g):
        self.ms = self.decay * self.ms + (1 - self.decay) * g * g
        denom = self.ms + self.eps
        if self.centered:
            self.mg = self.decay * self.mg + (1 - self.decay) * g
            denom = self.ms - self.mg * self.mg + self.eps
        self.mom = self.mu * self.mom + self.lr * g / np.sqrt(denom)
        return w - self.mom


class RefAdadelta:
    def __init__(self, lr=0.001, rho=0.95, eps=1e-8):
        self.lr, self.rho, self.eps = _f32(lr, rho, eps)
        self.accum, self.accum_update = np.zeros_like(W0), np.zeros_like(W0)

    def step(self, w, g):
        self.accum = self.rho * self.accum + (1 - self.rho) * g * g
        update = np.sqrt(self.accum_update + self.eps) / np.sqrt(self.accum + self.eps) * g
        self.accum_update = self.rho * self.accum_update + (1 - self.rho) * update * update
        return w - self.lr * update


CASES = {
    "gd": (lambda: tf.train.GradientDescentOptimizer(0.1), lambda: RefGD(0.1)),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.1, 0.9), lambda: RefMomentum(0.1, 0.9)),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
                 lambda: RefMomentum(0.1, 0.9, nesterov=True)),
    "adam": (lambda: tf.train.AdamOptimizer(0.1), lambda: RefAdam(0.1)),
    "adam_defaults": (lambda: tf.train.AdamOptimizer(), lambda: RefAdam()),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.5), lambda: RefAdagrad(0.5)),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01), lambda: RefRMSProp(0.01)),
    "rmsprop_momentum": (lambda: tf.train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, epsilon=1e-6),
                         lambda: RefRMSProp(0.01, 0.8, 0.5, 1e-6)),
    "rmsprop_centered": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.3, centered=True),
                         lambda: RefRMSProp(0.01, 0.9, 0.3, 1e-10, centered=True)),
    "adadelta": (lambda: tf.train.AdadeltaOptimizer(1.0), lambda: RefAdadelta(1.0)),
}


def _quadratic_loss(w, dtype):
    a = tf.constant(A, dtype=dtype)
    c = tf.constant(C, dtype=dtype)
    return 0.5 * tf.reduce_sum(a * w * w) + tf.reduce_sum(c * w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_three_steps_match_the_numpy_formula(case, dtype):
    make_opt, make_ref = CASES[case]
    tfd = tf.as_dtype(dtype)
    with tf.Graph().as_default():
        with tf.name_scope("hidden1"):
            w = tf.Variable(W0.astype(dtype), name="weights")
        train = make_opt().minimize(_quadratic_loss(w, tfd))
        ref, w_ref = make_ref(), W0.copy()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                w_ref = ref.step(w_ref, _grad(w_ref))
                sess.run(train)
                got = sess.run(w)
                assert got.dtype == dtype
                if dtype == np.float64:
                    np.testing.assert_allclose(got, w_ref, rtol=1e-12, atol=1e-14)
                else:
                    np.testing.assert_allclose(got, w_ref, rtol=2e-5, atol=1e-6)


def _fresh_model(optimizer, **minimize_kw):
    with tf.name_scope("hidden1"):
        w = tf.Variable(W0, name="weights")
    train = optimizer.minimize(_quadratic_loss(w, tf.float64), **minimize_kw)
    return w, train


@pytest.mark.parametrize("make_opt, slots", [
    (lambda: tf.train.MomentumOptimizer(0.1, 0.9), {"momentum": ("Momentum", 0.0)}),
    (lambda: tf.train.AdamOptimizer(), {"m": ("Adam", 0.0), "v": ("Adam_1", 0.0)}),
    (lambda: tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.25), {"accumulator": ("Adagrad", 0.25)}),
    (lambda: tf.train.RMSPropOptimizer(0.1), {"rms": ("RMSProp", 1.0), "momentum": ("RMSProp_1", 0.0)}),
    (lambda: tf.train.RMSPropOptimizer(0.1, centered=True),
     {"rms": ("RMSProp", 1.0), "mg": ("RMSProp_1", 0.0), "momentum": ("RMSProp_2", 0.0)}),
    (lambda: tf.train.AdadeltaOptimizer(), {"accum": ("Adadelta", 0.0), "accum_update": ("Adadelta_1", 0.0)}),
])
def test_slots_are_named_like_tf_non_trainable_and_initialized(make_opt, slots):
    with tf.Graph().as_default() as g:
        opt = make_opt()
        gate = tf.no_op(name="gate")
        with tf.name_scope("hidden1"):
            w = tf.Variable(W0, name="weights")
        # Inside a caller's scope and control context: slots still go to the root scope, with no deps.
        with tf.name_scope("train"), tf.control_dependencies([gate]):
            opt.minimize(_quadratic_loss(w, tf.float64))
        assert opt.get_slot_names() == sorted(slots)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for slot_name, (suffix, init) in slots.items():
                slot = opt.get_slot(w, slot_name)
                assert slot.op.name == "hidden1/weights/" + suffix
                assert slot.trainable is False
                assert slot in tf.global_variables() and slot not in tf.trainable_variables()
                assert slot.get_shape().as_list() == [3, 2] and slot.dtype == tf.float64
                assert not slot.op.control_inputs and not slot.initializer.control_inputs
                np.testing.assert_array_equal(sess.run(slot), np.full((3, 2), init))
        assert opt.get_slot(w, "no_such_slot") is None
        assert tf.trainable_variables() == [w]
        slot_vars = [v.op.name for v in opt.variables() if v.op.name.startswith("hidden1/")]
        assert slot_vars == sorted("hidden1/weights/" + sfx for sfx, _ in slots.values())
        assert g.get_operation_by_name("train/" + opt.get_name()).type == "NoOp"


def test_adam_beta_powers_and_slot_values_after_two_steps():
    with tf.Graph().as_default():
        opt = tf.train.AdamOptimizer(0.1, beta1=0.8, beta2=0.9)
        w, train = _fresh_model(opt)
        b1p, b2p = opt._get_beta_accumulators()
        assert (b1p.op.name, b2p.op.name) == ("beta1_power", "beta2_power")
        assert b1p.dtype == tf.float32 and not b1p.trainable
        assert [v.op.name for v in opt.variables()] == [
            "beta1_power", "beta2_power", "hidden1/weights/Adam", "hidden1/weights/Adam_1"]
        ref, w_ref = RefAdam(0.1, 0.8, 0.9), W0.copy()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_allclose(sess.run([b1p, b2p]), [0.8, 0.9], rtol=1e-7)
            for t in (1, 2):
                w_ref = ref.step(w_ref, _grad(w_ref))
                sess.run(train)
                np.testing.assert_allclose(sess.run([b1p, b2p]), [0.8 ** (t + 1), 0.9 ** (t + 1)], rtol=1e-6)
                np.testing.assert_allclose(sess.run(opt.get_slot(w, "m")), ref.m, rtol=1e-12)
                np.testing.assert_allclose(sess.run(opt.get_slot(w, "v")), ref.v, rtol=1e-12)
            np.testing.assert_allclose(sess.run(w), w_ref, rtol=1e-12)


def _depends_on(op, target):
    """Whether `op` runs after `target`, through data or control inputs."""
    stack, seen = [op], set()
    while stack:
        o = stack.pop()
        if o is target:
            return True
        if o not in seen:
            seen.add(o)
            stack.extend(t.op for t in o.inputs)
            stack.extend(o.control_inputs)
    return False


def test_train_op_structure_and_names_follow_tf():
    with tf.Graph().as_default() as g:
        w, train = _fresh_model(tf.train.GradientDescentOptimizer(0.1))
        assert train.name == "GradientDescent" and train.type == "NoOp"
        update = g.get_operation_by_name("GradientDescent/update_hidden1/weights/ApplyGradientDescent")
        assert update.type == "ApplyGradientDescent" and update in train.control_inputs
        assert g.get_operation_by_name("GradientDescent/learning_rate").type == "Const"
        assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [train]

        step = tf.train.get_or_create_global_step()
        with tf.name_scope("hidden2"):
            w2 = tf.Variable(W0, name="weights")
        train2 = tf.train.MomentumOptimizer(0.1, 0.5).minimize(_quadratic_loss(w2, tf.float64), global_step=step,
                                                               name="train")
        assert train2.name == "train" and train2.type == "AssignAdd"
        group = g.get_operation_by_name("train/update")
        assert group.type == "NoOp" and _depends_on(train2, group)
        assert [op.name for op in group.control_inputs] == ["train/update_hidden2/weights/ApplyMomentum"]
        assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [train, train2]


def test_global_step_increments_once_per_run_after_the_updates():
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        # The learning rate reads the step: updates must see the value from before the increment.
        lr = 0.1 * (tf.cast(step, tf.float64) + 1.0)
        w, train = _fresh_model(tf.train.GradientDescentOptimizer(lr), global_step=step)
        assert train.type == "AssignAdd"
        assert _depends_on(train, tf.get_default_graph().get_operation_by_name(
            "GradientDescent/update_hidden1/weights/ApplyGradientDescent"))
        w_ref = W0.copy()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for k in range(3):
                w_ref = w_ref - 0.1 * (k + 1) * _grad(w_ref)
                assert sess.run(train) is None
                assert tf.train.global_step(sess, step) == k + 1
                np.testing.assert_allclose(sess.run(w), w_ref, rtol=1e-12)


def test_updates_are_in_place_in_the_session_storage():
    with tf.Graph().as_default():
        opt = tf.train.AdamOptimizer(0.1)
        w, train = _fresh_model(opt)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            store = sess._runtime.variables
            before = [store[v.op] for v in (w, opt.get_slot(w, "m"), opt.get_slot(w, "v"))]
            sess.run(train)
            sess.run(train)
            after = [store[v.op] for v in (w, opt.get_slot(w, "m"), opt.get_slot(w, "v"))]
            assert all(a is b for a, b in zip(before, after))
            fetched = sess.run(w)
            sess.run(train)
            assert not np.array_equal(fetched, sess.run(w))   # a fetched value is a copy, not the storage


def test_var_list_is_respected_and_unconnected_variables_get_none():
    with tf.Graph().as_default():
        w1 = tf.Variable(W0, name="w1")
        w2 = tf.Variable(W0, name="w2")
        unused = tf.Variable(1.0, dtype=tf.float64, name="unused")
        loss = _quadratic_loss(w1, tf.float64) + _quadratic_loss(w2, tf.float64)
        opt = tf.train.MomentumOptimizer(0.1, 0.9)
        gv = opt.compute_gradients(loss)
        assert [v for _, v in gv] == [w1, w2, unused] and gv[2][0] is None
        train = opt.minimize(loss, var_list=[w1])
        assert opt.get_slot(w1, "momentum") is not None and opt.get_slot(w2, "momentum") is None
        train_all = tf.train.GradientDescentOptimizer(0.5).apply_gradients(gv)   # skips (None, unused)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            np.testing.assert_allclose(sess.run(w1), W0 - _f32(0.1)[0] * _grad(W0), rtol=1e-12)
            np.testing.assert_array_equal(sess.run(w2), W0)
            sess.run(train_all)
            np.testing.assert_array_equal(sess.run(unused), 1.0)


def test_missing_gradients_and_bad_arguments_raise_clear_errors():
    with tf.Graph().as_default():
        w = tf.Variable(W0, name="w")
        other = tf.Variable(2.0, dtype=tf.float64, name="other")
        opt = tf.train.GradientDescentOptimizer(0.1)
        loss = _quadratic_loss(w, tf.float64)
        with pytest.raises(ValueError, match="No gradients provided for any variable.*other"):
            opt.minimize(loss, var_list=[other])
        with pytest.raises(ValueError, match="No gradients provided for any variable.*'w:0'"):
            opt.apply_gradients([(None, w)])
        with pytest.raises(ValueError, match="No variables provided"):
            opt.apply_gradients([])
        with pytest.raises(TypeError, match="loss must be a Tensor"):
            opt.minimize(3.0)
        with pytest.raises(ValueError, match="Invalid type tf.int32"):
            opt.minimize(tf.constant(1))
        with pytest.raises(ValueError, match="gate_gradients"):
            opt.minimize(loss, gate_gradients=7)
        with pytest.raises(NotImplementedError, match="unsupported type"):
            opt.minimize(loss, var_list=[tf.constant(1.0)])
        with pytest.raises(TypeError, match="ApplyGradientDescent.*'delta'.*float32.*float64"):
            opt.apply_gradients([(tf.zeros([3, 2], tf.float32), w)])
        with pytest.raises(ValueError, match="ApplyGradientDescent.*do not have the same shape"):
            opt.apply_gradients([(tf.zeros([2, 3], tf.float64), w)])
        with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
            tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
        with pytest.raises(ValueError, match="optimizer name"):
            tf.train.Optimizer(False, "")
    with tf.Graph().as_default():
        tf.Variable(1.0, trainable=False)
        with pytest.raises(ValueError, match="No variables to optimize."):
            opt.minimize(tf.constant(1.0))


def test_running_before_the_slots_are_initialized_names_the_slot():
    with tf.Graph().as_default():
        opt = tf.train.MomentumOptimizer(0.1, 0.9)
        w, train = _fresh_model(opt)
        with tf.Session() as sess:
            sess.run(w.initializer)
            with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value hidden1/weights/Momentum"):
                sess.run(train)


def test_runtime_gradient_shape_mismatch_is_an_invalid_argument():
    with tf.Graph().as_default():
        w = tf.Variable(np.zeros(3), name="w")
        g = tf.placeholder(tf.float64, shape=None)
        train = tf.train.GradientDescentOptimizer(0.1).apply_gradients([(g, w)])
        with tf.Session() as sess:
            sess.run(w.initializer)
            sess.run(train, {g: np.ones(3)})
            np.testing.assert_allclose(sess.run(w), -0.1 * np.ones(3))
            with pytest.raises(tf.errors.InvalidArgumentError, match="same shape"):
                sess.run(train, {g: 1.0})


def test_gradients_as_given_and_callable_learning_rate_and_gate_graph():
    with tf.Graph().as_default():
        w = tf.Variable(W0, name="w")
        lr_holder = tf.placeholder(tf.float64, shape=[])
        opt = tf.train.MomentumOptimizer(lambda: lr_holder, 0.5)
        train = opt.apply_gradients([(np.ones((3, 2)), w)])
        gd = tf.train.GradientDescentOptimizer(0.1)
        gated = gd.minimize(_quadratic_loss(w, tf.float64), gate_gradients=tf.train.Optimizer.GATE_GRAPH)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train, {lr_holder: 0.2})
            sess.run(train, {lr_holder: 0.1})
            np.testing.assert_allclose(sess.run(w), W0 - 0.2 * 1.0 - 0.1 * 1.5, rtol=1e-12)
            w_now = sess.run(w)
            sess.run(gated)
            np.testing.assert_allclose(sess.run(w), w_now - _f32(0.1)[0] * _grad(w_now), rtol=1e-12)


# -- the global step
def test_global_step_creation_and_lookup():
    with tf.Graph().as_default() as g:
        assert tf.train.get_global_step() is None
        with tf.name_scope("outer"):
            step = tf.train.create_global_step()
        assert step.op.name == "global_step" and step.dtype == tf.int64
        assert step.get_shape().ndims == 0 and not step.trainable
        assert tf.get_collection(tf.GraphKeys.GLOBAL_STEP) == [step] and step in tf.global_variables()
        assert tf.train.get_global_step() is step and tf.train.get_or_create_global_step() is step
        assert g.get_operation_by_name("global_step/Initializer/zeros").type == "Const"
        with pytest.raises(ValueError, match='"global_step" already exists'):
            tf.train.create_global_step(g)
        with tf.Session() as sess:
            sess.run(step.initializer)
            assert tf.train.global_step(sess, step) == 0 and isinstance(tf.train.global_step(sess, step), int)
    with tf.Graph().as_default() as g2:
        plain = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
        assert tf.train.get_global_step(g2) is plain
    with tf.Graph().as_default():
        tf.Variable(0.0, name="global_step")
        with pytest.raises(TypeError, match="integer type"):
            tf.train.get_global_step()
        with pytest.raises(TypeError, match="not scalar"):
            tf.train.assert_global_step(tf.Variable([1, 2], name="vec"))
        with pytest.raises(TypeError, match="must be a Variable or Tensor"):
            tf.train.assert_global_step(3)


# -- learning-rate schedules against their closed forms
def _schedule_values(build, steps):
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        lr = build(step)
        with tf.Session() as sess:
            out = []
            for s in steps:
                step.load(s, sess)
                out.append(sess.run(lr))
            return lr, np.array(out)


STEPS = [0, 1, 5, 10, 15, 37, 100, 250]


def test_exponential_decay_matches_closed_form():
    lr, got = _schedule_values(lambda s: tf.train.exponential_decay(0.1, s, 10, 0.5), STEPS)
    assert lr.op.name == "ExponentialDecay" and lr.dtype == tf.float32
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (s / 10) for s in STEPS], rtol=1e-6)
    _, got = _schedule_values(lambda s: tf.train.exponential_decay(0.1, s, 10, 0.5, staircase=True), STEPS)
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (s // 10) for s in STEPS], rtol=1e-6)
    with pytest.raises(ValueError, match="global_step is required"):
        tf.train.exponential_decay(0.1, None, 10, 0.5)


def test_other_schedules_match_closed_forms():
    _, got = _schedule_values(lambda s: tf.train.inverse_time_decay(0.1, s, 10, 0.5), STEPS)
    np.testing.assert_allclose(got, [0.1 / (1 + 0.5 * s / 10) for s in STEPS], rtol=1e-6)
    _, got = _schedule_values(lambda s: tf.train.inverse_time_decay(0.1, s, 10, 0.5, staircase=True), STEPS)
    np.testing.assert_allclose(got, [0.1 / (1 + 0.5 * (s // 10)) for s in STEPS], rtol=1e-6)
    _, got = _schedule_values(lambda s: tf.train.natural_exp_decay(0.1, s, 10, 0.5), STEPS)
    np.testing.assert_allclose(got, [0.1 * math.exp(-0.5 * s / 10) for s in STEPS], rtol=1e-6)
    _, got = _schedule_values(lambda s: tf.train.polynomial_decay(0.1, s, 100, 0.01, power=2.0), STEPS)
    np.testing.assert_allclose(got, [(0.1 - 0.01) * (1 - min(s, 100) / 100) ** 2 + 0.01 for s in STEPS], rtol=1e-5)

    def cycled(s):
        steps = 100 * max(math.ceil(s / 100), 1)
        return (0.1 - 0.01) * (1 - s / steps) ** 0.5 + 0.01
    _, got = _schedule_values(lambda s: tf.train.polynomial_decay(0.1, s, 100, 0.01, power=0.5, cycle=True), STEPS)
    np.testing.assert_allclose(got, [cycled(s) for s in STEPS], rtol=1e-5)
    lr, got = _schedule_values(lambda s: tf.train.piecewise_constant(s, [10, 100], [1.0, 0.5, 0.1]), STEPS)
    assert lr.op.name == "PiecewiseConstant"
    np.testing.assert_array_equal(got, np.array([1.0 if s <= 10 else 0.5 if s <= 100 else 0.1 for s in STEPS],
                                                np.float32))
    with pytest.raises(ValueError, match="1 less than"):
        tf.train.piecewise_constant(tf.constant(1), [1, 2], [0.1, 0.2])


def test_optimizer_follows_an_exponential_decay_schedule():
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        lr = tf.train.exponential_decay(0.1, step, decay_steps=2, decay_rate=0.5)
        w, train = _fresh_model(tf.train.GradientDescentOptimizer(lr), global_step=step)
        w_ref = W0.copy()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for k in range(4):
                rate = np.float64(np.float32(0.1) * np.float32(0.5) ** np.float32(k / 2))  # float32 schedule
                w_ref = w_ref - rate * _grad(w_ref)
                sess.run(train)
            np.testing.assert_allclose(sess.run(w), w_ref, rtol=1e-6)
            assert tf.train.global_step(sess, step) == 4


# -- end to end: a small MLP on separable synthetic data
def test_mlp_learns_a_nonlinear_boundary_with_gradient_descent():
    rng = np.random.default_rng(0)
    n = 200
    radius = np.concatenate([rng.uniform(0.0, 0.8, n // 2), rng.uniform(1.3, 2.0, n // 2)])
    angle = rng.uniform(0, 2 * np.pi, n)
    xv = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(np.float32)
    labels = np.concatenate([np.zeros(n // 2), np.ones(n // 2)]).astype(np.int32)   # 0: inside, 1: ring
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, (None, 2))
        y = tf.placeholder(tf.int32, (None,))
        with tf.name_scope("hidden1"):
            w1 = tf.Variable(tf.truncated_normal([2, 16], stddev=1.0), name="weights")
            b1 = tf.Variable(tf.zeros([16]), name="biases")
            hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
        with tf.name_scope("softmax_linear"):
            w2 = tf.Variable(tf.truncated_normal([16, 2], stddev=0.25), name="weights")
            b2 = tf.Variable(tf.zeros([2]), name="biases")
            logits = tf.matmul(hidden, w2) + b2
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        step = tf.train.get_or_create_global_step()
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=step)
        feed = {x: xv, y: labels}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            first = sess.run(loss, feed)
            for _ in range(600):
                sess.run(train, feed)
            last, scores = sess.run([loss, logits], feed)
            assert tf.train.global_step(sess, step) == 600
    accuracy = np.mean(np.argmax(scores, 1) == labels)
    assert last < first and accuracy > 0.95, (first, last, accuracy)


def test_adam_on_a_large_variable_updates_block_by_block_like_the_whole_array_formula():
    """A variable above the kernel's block size (262144 elements; split across threads, in blocks) gets
    the whole-array formula's update, step after step, to float32 rounding."""
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((613, 571)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    with tf.Graph().as_default():
        w = tf.Variable(w0, name="big")
        g = tf.placeholder(tf.float32, w0.shape)
        train = tf.train.AdamOptimizer(0.01).apply_gradients([(g, w)])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for gv in grads:
                sess.run(train, {g: gv})
            got = sess.run(w)
    m, v, want = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    b1, b2, eps, lr = np.float32(0.9), np.float32(0.999), np.float32(1e-8), np.float32(0.01)
    b1p, b2p = b1, b2
    for gv in grads:
        alpha = lr * np.sqrt(np.float32(1) - b2p) / (np.float32(1) - b1p)
        m += (gv - m) * (np.float32(1) - b1)
        v += (gv * gv - v) * (np.float32(1) - b2)
        want -= m / (np.sqrt(v) + eps) * alpha
        b1p, b2p = b1p * b1, b2p * b2
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("beta2", [0.999, 1.0])
def test_adam_of_a_dense_layer_split_in_bands_matches_closed_form(monkeypatch, beta2):
    """A dense layer's weights above the fused MatMul+Adam kernel's band size, in a run that splits work over
    2 threads: updated band by band from the gradient times sqrt(1 - beta2) (beta2 = 1: v never changes and
    the plain gradient is used). One step from zero slots: m = (1 - beta1) g, v = (1 - beta2) g^2,
    w -= lr * sqrt(1 - beta2) / (1 - beta1) * m / (sqrt(v) + epsilon), in float64 from the float64 gradient."""
    from nanotf.framework import parallel
    from nanotf.training import training_ops
    # a plain dense plan splits on a busy machine only: busy, and no new sample of the machine's load
    monkeypatch.setattr(parallel._neighbours, "busy", True)
    monkeypatch.setattr(parallel._neighbours, "next_check", float("inf"))
    monkeypatch.setattr(parallel._neighbours, "last", (0.0, 0.0, 0.0))
    parallel.set_intra_op_parallelism_threads(2)
    calls = []
    monkeypatch.setattr(training_ops, "_band_buffers", lambda *a, _orig=training_ops._band_buffers:
                        calls.append(a) or _orig(*a))
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((8, 600)).astype(np.float32)
    w0 = (0.05 * rng.standard_normal((600, 1024))).astype(np.float32)
    lr, beta1, eps = 0.01, 0.9, 1e-8
    try:
        with tf.Graph().as_default(), tf.Session() as sess:
            x = tf.placeholder(tf.float32, [None, 600])
            w = tf.Variable(w0)
            opt = tf.train.AdamOptimizer(lr, beta1=beta1, beta2=beta2, epsilon=eps)
            train = opt.minimize(0.5 * tf.reduce_sum(tf.square(tf.matmul(x, w))))
            sess.run(tf.global_variables_initializer())
            sess.run(train, {x: xv})
            got_w, got_m, got_v = sess.run([w, opt.get_slot(w, "m"), opt.get_slot(w, "v")])
    finally:
        parallel.set_intra_op_parallelism_threads(0)
    assert calls, "the banded update did not run"
    x64 = xv.astype(np.float64)
    g = x64.T @ (x64 @ w0)
    b1, b2, lr32 = _f32(beta1, beta2, lr)
    m, v = (1 - b1) * g, (1 - b2) * g * g
    np.testing.assert_allclose(got_m, m, rtol=1e-4, atol=1e-6 * np.abs(m).max())
    np.testing.assert_allclose(got_v, v, rtol=2e-4, atol=2e-6 * np.abs(v).max() + 1e-30)
    want_w = w0 - lr32 * math.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps)
    # Each weight moves by about lr * sign(g) (less where |g| is near epsilon): where float32 surely has
    # the gradient's sign it matches to a small fraction of lr, elsewhere within the two opposite moves.
    sure = np.abs(g) >= 1e-3 * np.abs(g).max()
    np.testing.assert_allclose(got_w[sure], want_w[sure], rtol=0, atol=1e-3 * lr)
    assert np.abs(got_w - want_w).max() <= 2.001 * lr
