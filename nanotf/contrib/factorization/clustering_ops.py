"""tf.contrib.factorization.KMeans: TF 1.15's k-means graph builder (clustering_ops.py).

`KMeans(inputs, num_clusters, ...).training_graph()` returns TF 1.15's six values
(all_scores, cluster_idx, scores, cluster_centers_initialized, init_op, training_op). The variables
carry TF's names (`clusters`, `initialized`, and for mini-batch `clusters_updated`,
`update_in_steps`, `Variable` for the counts). Distances (`all_scores`) are built from ordinary ops;
the steps TF runs through its own kernels or control flow are nanotf ops with NumPy kernels here:
  NearestNeighbors            TF's op: index and squared distance of the nearest centers
  KmeansPlusPlusInitialization TF's op: k-means++ seeding with retries
  KMeansInitializeClusters    the init op: adds up to num_clusters centers (random rows or k-means++)
                              and sets `initialized` once there are num_clusters of them
  KMeansClusterSums           per-cluster sums and counts for the full-batch (Lloyd) update, which
                              is then `assign(clusters, sums / (counts + 1e-6))` as in TF
  KMeansMiniBatchSync / KMeansMiniBatchUpdate   TF's mini-batch rule x += (sum d - k x) / (n + k)
Update kernels store a new array for the variable rather than writing into the old one, so a value
read earlier in the same run stays what it was.
"""
import numpy as np

from nanotf.framework import dtypes, errors, parallel
from nanotf.framework import lowering as xla
from nanotf.framework import ops as ops_mod
from nanotf.framework.op_def import OpDef, Sample
from nanotf.framework.random_seed import get_seed
from nanotf.framework.tensor_shape import TensorShape
from nanotf.ops import array_ops, math_ops, nn_ops, state_ops, variables

SQUARED_EUCLIDEAN_DISTANCE = "squared_euclidean"
COSINE_DISTANCE = "cosine"
RANDOM_INIT = "random"
KMEANS_PLUS_PLUS_INIT = "kmeans_plus_plus"
KMC2_INIT = "kmc2"
CLUSTERS_VAR_NAME = "clusters"


def _squared_distances(points, centers, center_norms=None):
    """|p|^2 - 2 p.c + |c|^2 for every point and center, clipped at 0; `center_norms` ([1, centers]) when
    the caller has them already."""
    if center_norms is None:
        center_norms = np.einsum("ij,ij->i", centers, centers)[None, :]
    d = np.einsum("ij,ij->i", points, points)[:, None] - 2.0 * (points @ centers.T) + center_norms
    return np.maximum(d, 0.0, out=d)


_NEAREST_BAND_ROWS = 1024   # rows of points whose distances are made while those rows are in cache


class NearestNeighbors(OpDef):
    """(indices int64 [N, k], squared distances [N, k]) of the k nearest centers of each point.

    The kernel goes through the points in bands of rows, split over the intra-op threads: a band's
    products with the centers, its rows' squared norms and its selection are made while its rows are in
    cache, where the whole-array form read the points twice and wrote N x centers distances three times
    (k-means computes these for its whole training set every step). A band's product may differ from the
    whole array's in the last bit, so two centers at equal distance may rank differently than a single
    product would rank them (TensorFlow's kernel, blocked too, makes no promise there either)."""
    grad = None
    splits_work = True

    def infer(op):
        points, centers, k = op._inputs
        n = points.shape[0] if points.shape.ndims else None
        kk = int(k.op._attrs["value"]) if k.op.type == "Const" else None
        return [(dtypes.int64, TensorShape([n, kk])), (points.dtype, TensorShape([n, kk]))]

    def kernel(op, ctx):
        def nearest(points, centers, k):
            k = int(k)
            if centers.ndim != 2 or centers.shape[0] < k:
                raise ValueError("NearestNeighbors needs at least k=%d centers, got shape %s" % (k, centers.shape))
            points = np.asarray(points)
            n = points.shape[0]
            idx, dist = np.empty((n, k), np.int64), np.empty((n, k), points.dtype)
            center_norms = np.einsum("ij,ij->i", centers, centers)[None, :]

            def bands(i, j):
                for a in range(i, j, _NEAREST_BAND_ROWS):
                    b = min(a + _NEAREST_BAND_ROWS, j)
                    idx[a:b], dist[a:b] = _nearest_in_band(points[a:b], centers, center_norms, k)
            threads = parallel.threads_for(n * centers.shape[0] * max(points.shape[1], 1))
            # a range per thread even for fewer than threads bands' rows (the plan runs BLAS single-threaded)
            grain = max(1, min(_NEAREST_BAND_ROWS, -(-n // threads)))
            parallel.parallel_for(bands, n, grain=grain, threads=threads)
            return idx, dist
        return nearest

    def lower(op, points, centers, k):
        k = int(xla.static_value(op, k, 2))   # XLA needs the output's width at compile time
        jnp = xla.jnp
        d = (jnp.sum(points * points, axis=1)[:, None] - 2.0 * (points @ centers.T)
             + jnp.sum(centers * centers, axis=1)[None, :])
        d = jnp.maximum(d, xla.zero_of(d))
        if k == 1:   # argmin: the first of equal distances, as NumPy's
            idx = jnp.argmin(d, axis=1)[:, None]
            return idx.astype(np.int64), jnp.take_along_axis(d, idx, axis=1)
        neg, idx = xla.lax.top_k(-d, k)   # nearest first; fewer than k centers fails while tracing
        return idx.astype(np.int64), -neg

    samples = [Sample(lambda p, c: nearest_neighbors(p, c, 2), [(5, 3), (4, 3)], grad=()),
               Sample(lambda p, c: nearest_neighbors(p, c, 1), [(6, 2), (3, 2)], grad=())]


def _nearest_in_band(points, centers, center_norms, k):
    """The k nearest centers of each row of `points` and their squared distances, nearest first."""
    d = _squared_distances(points, centers, center_norms)
    if k == 1:
        idx = np.argmin(d, axis=1)[:, None]
    else:
        idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        idx = np.take_along_axis(idx, np.argsort(np.take_along_axis(d, idx, 1), axis=1), 1)
    return idx, np.take_along_axis(d, idx, 1)


def nearest_neighbors(points, centers, k, name=None):
    k = ops_mod.convert_to_tensor(np.int64(k), name="k") if not isinstance(k, ops_mod.Tensor) else k
    op = ops_mod.get_default_graph().create_op("NearestNeighbors", [ops_mod.convert_to_tensor(points),
                                                                     ops_mod.convert_to_tensor(centers), k],
                                               name=name or "NearestNeighbors")
    return op.outputs[0], op.outputs[1]


def _kmeans_plus_plus(points, num_to_sample, rng, num_retries):
    """k-means++: the first center uniform, each next one drawn with probability proportional to the
    squared distance to the nearest chosen center, keeping the best of 1 + retries draws."""
    n = points.shape[0]
    retries = int(num_retries) if num_retries >= 0 else int(2 + np.log(max(num_to_sample, 1)))
    chosen = [points[rng.integers(n)]]
    nearest = _squared_distances(points, chosen[0][None])[:, 0]
    for _ in range(1, num_to_sample):
        total = nearest.sum()
        if total <= 0:
            cands = rng.integers(n, size=1 + retries)
        else:
            cands = np.searchsorted(np.cumsum(nearest), rng.random(1 + retries) * total)
            cands = np.minimum(cands, n - 1)
        best, best_pot, best_near = None, None, None
        for c in cands:
            near = np.minimum(nearest, _squared_distances(points, points[c][None])[:, 0])
            pot = near.sum()
            if best is None or pot < best_pot:
                best, best_pot, best_near = c, pot, near
        chosen.append(points[best])
        nearest = best_near
    return np.stack(chosen)


def _kmc2_centers(points, centers, remaining, chain_length, rng):
    """TF's k-MC2 seeding of one batch: the batch is cut into subsets of chain_length points (at least one
    subset, at most `remaining`); each adds one center: the batch's first point when there is none yet,
    else the end of a Metropolis chain over the subset that moves from point x to point y with
    probability min(1, d(y) / d(x)), d being the squared distance to the nearest chosen center."""
    n = points.shape[0]
    count = max(min(remaining, n // max(chain_length, 1)), 1)
    chosen = [] if centers is None else list(centers)
    for i in range(count):
        if not chosen:
            chosen.append(points[0])
            continue
        subset = points[i * chain_length:(i + 1) * chain_length]
        if not subset.shape[0]:
            break
        d = _squared_distances(subset, np.asarray(chosen)).min(axis=1)
        cur, u = 0, rng.random(subset.shape[0])
        for j in range(1, subset.shape[0]):
            if d[cur] == 0 or u[j] * d[cur] < d[j]:
                cur = j
        chosen.append(subset[cur])
    new = np.asarray(chosen[0 if centers is None else len(centers):])
    return new


class KmeansPlusPlusInitialization(OpDef):
    """TF's op: num_to_sample rows of points chosen by k-means++ (seeded: the same rows for the same seed)."""
    grad = None

    def infer(op):
        points, num, _, _ = op._inputs
        d = points.shape[1] if points.shape.ndims == 2 else None
        return points.dtype, TensorShape([None, d])

    def kernel(op, ctx):
        def init(points, num_to_sample, seed, num_retries):
            rng = np.random.default_rng(int(seed) & 0xFFFFFFFF)
            return _kmeans_plus_plus(np.asarray(points), int(num_to_sample), rng, int(num_retries))
        return init

    samples = [Sample(lambda p: kmeans_plus_plus_initialization(p, 3, 1, 2), [(6, 2)], grad=())]


def kmeans_plus_plus_initialization(points, num_to_sample, seed, num_retries_per_sample, name=None):
    args = [ops_mod.convert_to_tensor(points)] + [ops_mod.convert_to_tensor(np.int64(v)) for v in
                                                  (num_to_sample, seed, num_retries_per_sample)]
    return ops_mod.apply_op("KmeansPlusPlusInitialization", args, name=name or "KmeansPlusPlusInitialization")


def _l2_normalize_rows(x):
    return x / np.sqrt(np.maximum((x * x).sum(axis=1, keepdims=True), 1e-12))


class KMeansInitializeClusters(OpDef):
    """The init op. Ref inputs: clusters, clusters_updated, initialized; then num_clusters and the inputs."""
    stateful = True
    grad = None
    ref_inputs = (0, 1, 2)

    def infer(op):
        return []

    def kernel(op, ctx):
        store = ctx.variables
        centers_var, updated_var, init_var = (op._inputs[i].op for i in range(3))
        a = op._attrs
        seed = a["seed"]
        rng_key = (op, "rng")

        def rng():
            r = ctx.op_state.get(rng_key)
            if r is None:
                r = ctx.op_state[rng_key] = np.random.default_rng(None if seed is None else seed & 0xFFFFFFFF)
            return r

        def initialize(num_clusters, *inputs):
            for v in (centers_var, updated_var, init_var):
                if v not in store:
                    raise state_ops._uninitialized(v)
            k = int(num_clusters)
            current = store[centers_var]
            have = current.shape[0] if current.ndim == 2 else 0
            remaining = k - have
            if remaining == 0:
                if not bool(store[init_var]):
                    raise errors.InvalidArgumentError(None, op, "assertion failed: the clusters are all chosen but "
                                                      "`initialized` is False")
                return
            if remaining < 0:
                raise errors.InvalidArgumentError(None, op, "assertion failed: num_remaining > 0 (got %d)" % remaining)
            data = [np.asarray(x) for x in inputs]
            if a["initial_clusters"] == RANDOM_INIT:
                allrows = np.concatenate(data) if len(data) > 1 else data[0]
                if allrows.shape[0] <= remaining:
                    new = allrows                                  # TF: take the whole (small) batch
                else:                                              # TF: uniform rows, with replacement
                    new = allrows[rng().integers(0, allrows.shape[0], size=remaining)]
            elif a["initial_clusters"] == KMEANS_PLUS_PLUS_INIT:
                pts = data[0]
                if a["cosine"]:
                    pts = _l2_normalize_rows(pts)
                if pts.shape[0] < remaining:
                    raise errors.InvalidArgumentError(None, op, "assertion failed: k-means++ needs at least %d "
                                                      "points in one batch, got %d" % (remaining, pts.shape[0]))
                new = _kmeans_plus_plus(pts, remaining, rng(), a["retries"])
            elif a["initial_clusters"] == KMC2_INIT:
                pts = _l2_normalize_rows(data[0]) if a["cosine"] else data[0]
                new = _kmc2_centers(pts, current if have else None, remaining, a["chain_length"], rng())
            else:                                                  # given initial centers
                new = np.asarray(inputs[-1])
                data = data[:-1]
                if new.shape[0] != remaining:
                    raise errors.InvalidArgumentError(None, op, "assertion failed: %d initial clusters given for %d "
                                                      "remaining" % (new.shape[0], remaining))
            if a["cosine"]:
                new = _l2_normalize_rows(new)
            npd = centers_var._attrs["dtype"].as_numpy_dtype
            allc = np.array(new if have == 0 else np.concatenate([current, new]), dtype=npd)
            store[centers_var] = allc
            if updated_var is not centers_var:
                store[updated_var] = allc.copy()
            if allc.shape[0] == k:
                store[init_var] = np.array(True)
        return initialize


class KMeansClusterSums(OpDef):
    """(sums [k, d], counts [k, 1]) of the points assigned to each of num_clusters clusters."""
    grad = None
    splits_work = True

    def infer(op):
        points = op._inputs[0]
        d = points.shape[1] if points.shape.ndims == 2 else None
        return [(points.dtype, TensorShape([None, d])), (points.dtype, TensorShape([None, 1]))]

    def kernel(op, ctx):
        def sums(points, idx, num_clusters):
            k = int(num_clusters)
            idx = np.asarray(idx).reshape(-1)
            s = np.zeros((k, points.shape[1]), dtype=points.dtype)
            _segment_sum_into(s, idx, points)
            counts = np.bincount(idx, minlength=k).astype(points.dtype)[:, None]
            return s, counts
        return sums

    def lower(op, points, idx, num_clusters):
        k = int(xla.static_value(op, num_clusters, 2))   # the outputs' first dimension
        # the kernel's one-hot product; an index outside [0, k) matches no column (XLA cannot raise)
        onehot = (xla.jnp.reshape(idx, (-1, 1)) == np.arange(k)).astype(points.dtype)
        return onehot.T @ points, xla.jnp.sum(onehot, axis=0)[:, None]

    samples = [Sample(lambda p: cluster_sums(p, np.array([0, 2, 0, 1], np.int64), 3), [(4, 2)], grad=()),
               Sample(lambda p, i: cluster_sums(p, i, 4), [(5, 3), np.array([3, 3, 0, 1, 3], np.int64)], grad=())]


_SUM_COLUMNS_GRAIN = 64


def _segment_sum_into(out, idx, points):
    """out[c] = sum of the rows of points with idx == c, as one product with a one-hot matrix (BLAS).
    Written points^T @ onehot (d x N times N x k): OpenBLAS runs the k x N times N x d form of the same
    product an order of magnitude slower."""
    onehot = np.zeros((idx.shape[0], out.shape[0]), dtype=points.dtype)
    onehot[np.arange(idx.shape[0]), idx] = 1

    def columns(i, j):   # a block of columns per intra-op thread
        out[:, i:j] = (points[:, i:j].T @ onehot).T
    parallel.parallel_for(columns, points.shape[1], grain=_SUM_COLUMNS_GRAIN,
                          threads=parallel.threads_for(points.size * out.shape[0]))


def cluster_sums(points, cluster_idx, num_clusters, name=None):
    op = ops_mod.get_default_graph().create_op(
        "KMeansClusterSums", [ops_mod.convert_to_tensor(points), ops_mod.convert_to_tensor(cluster_idx),
                              ops_mod.convert_to_tensor(num_clusters)], name=name or "KMeansClusterSums")
    return op.outputs[0], op.outputs[1]


class KMeansMiniBatchUpdate(OpDef):
    """TF's mini-batch rule: for each cluster c with old center x, old count n and k new points d_i,
    x += (sum_i d_i - k x) / (n + k) and n += k. Ref inputs: centers (0), counts (1); then points, idx."""
    stateful = True
    splits_work = True
    grad = None
    ref_inputs = (0, 1)

    def infer(op):
        return []

    def kernel(op, ctx):
        store = ctx.variables
        centers_var, counts_var = op._inputs[0].op, op._inputs[1].op

        def update(points, idx):
            for v in (centers_var, counts_var):
                if v not in store:
                    raise state_ops._uninitialized(v)
            centers, counts = store[centers_var], store[counts_var]
            idx = np.asarray(idx).reshape(-1)
            k = centers.shape[0]
            add = np.bincount(idx, minlength=k)
            sums = np.zeros_like(centers)
            _segment_sum_into(sums, idx, np.asarray(points, dtype=centers.dtype))
            hit = add > 0
            rate = np.zeros(k, dtype=centers.dtype)
            rate[hit] = 1.0 / (counts[hit] + add[hit])
            new = centers + (sums - add[:, None].astype(centers.dtype) * centers) * rate[:, None]
            store[centers_var] = new.astype(centers.dtype)
            store[counts_var] = (counts + add).astype(counts.dtype)
        return update


class KMeansMiniBatchSync(OpDef):
    """Every `steps` mini-batch steps: copy clusters_updated (l2-normalized for cosine) to clusters and
    zero the counts; TF's cond on update_in_steps. Ref inputs: update_in_steps, clusters,
    clusters_updated, counts."""
    stateful = True
    grad = None
    ref_inputs = (0, 1, 2, 3)

    def infer(op):
        return []

    def kernel(op, ctx):
        store = ctx.variables
        steps_var, centers_var, updated_var, counts_var = (t.op for t in op._inputs)
        steps, cosine = op._attrs["steps"], op._attrs["cosine"]

        def sync():
            for v in (steps_var, centers_var, updated_var, counts_var):
                if v not in store:
                    raise state_ops._uninitialized(v)
            left = int(store[steps_var])
            if left <= 0:
                store[steps_var] = np.array(steps - 1, dtype=store[steps_var].dtype)
                upd = store[updated_var]
                store[centers_var] = (_l2_normalize_rows(upd) if cosine else upd).astype(upd.dtype)
                store[counts_var] = np.zeros_like(store[counts_var])
            else:
                store[steps_var] = np.array(left - 1, dtype=store[steps_var].dtype)
        return sync


class KMeans:
    """Creates the graph for k-means clustering (TF 1.15's contrib.factorization.KMeans)."""

    def __init__(self, inputs, num_clusters, initial_clusters=RANDOM_INIT, distance_metric=SQUARED_EUCLIDEAN_DISTANCE,
                 use_mini_batch=False, mini_batch_steps_per_iteration=1, random_seed=0,
                 kmeans_plus_plus_num_retries=2, kmc2_chain_length=200):
        if isinstance(initial_clusters, str) and initial_clusters not in (RANDOM_INIT, KMEANS_PLUS_PLUS_INIT, KMC2_INIT):
            raise ValueError("Unsupported initialization algorithm `%s`, must be one of `%s`."
                             % (initial_clusters, [RANDOM_INIT, KMEANS_PLUS_PLUS_INIT, KMC2_INIT]))
        if callable(initial_clusters):
            raise NotImplementedError("a function as initial_clusters is not supported by nanotf")
        if distance_metric not in (SQUARED_EUCLIDEAN_DISTANCE, COSINE_DISTANCE):
            raise ValueError("Unsupported distance metric `%s`, must be one of `%s`."
                             % (distance_metric, [SQUARED_EUCLIDEAN_DISTANCE, COSINE_DISTANCE]))
        self._inputs = [ops_mod.convert_to_tensor(x) for x in (inputs if isinstance(inputs, list) else [inputs])]
        self._num_clusters = num_clusters
        self._initial_clusters = initial_clusters
        self._distance_metric = distance_metric
        self._use_mini_batch = use_mini_batch
        self._mini_batch_steps_per_iteration = int(mini_batch_steps_per_iteration)
        self._seed = get_seed(random_seed)[0]
        self._kmeans_plus_plus_num_retries = kmeans_plus_plus_num_retries
        self._kmc2_chain_length = int(kmc2_chain_length)

    def _clusters_l2_normalized(self):
        return self._distance_metric == COSINE_DISTANCE and (
            not self._use_mini_batch or self._mini_batch_steps_per_iteration > 1)

    @classmethod
    def _distance_graph(cls, inputs, clusters, distance_metric):
        out = []
        for inp in inputs:
            if distance_metric == SQUARED_EUCLIDEAN_DISTANCE:
                out.append(math_ops.reduce_sum(math_ops.square(inp), 1, keepdims=True)
                           - 2 * math_ops.matmul(inp, clusters, transpose_b=True)
                           + array_ops.transpose(math_ops.reduce_sum(math_ops.square(clusters), 1, keepdims=True)))
            else:
                out.append(1 - math_ops.matmul(inp, clusters, transpose_b=True))
        return out

    def _create_variables(self, num_clusters, dtype):
        empty = np.zeros((0,), dtype.as_numpy_dtype)
        centers = variables.Variable(empty, name=CLUSTERS_VAR_NAME, validate_shape=False)
        initialized = variables.Variable(False, dtype=dtypes.bool, name="initialized")
        if self._use_mini_batch and self._mini_batch_steps_per_iteration > 1:
            updated = variables.Variable(empty, name="clusters_updated", validate_shape=False)
            steps = variables.Variable(np.int64(self._mini_batch_steps_per_iteration), name="update_in_steps")
            counts = variables.Variable(array_ops.zeros([num_clusters], dtype=dtypes.int64))
        else:
            updated, steps = centers, None
            counts = variables.Variable(array_ops.ones([num_clusters], dtype=dtypes.int64)) \
                if self._use_mini_batch else None
        return centers, initialized, counts, updated, steps

    def training_graph(self):
        """(all_scores, cluster_idx, scores, cluster_centers_initialized, init_op, training_op), each of
        the first three a list with one tensor per input tensor, as TF 1.15 returns them."""
        given = None
        if isinstance(self._initial_clusters, str):
            k = self._num_clusters
            if isinstance(k, ops_mod.Tensor) and k.op.type == "Const":
                k = int(k.op._attrs["value"])
            if not isinstance(k, (int, np.integer)):
                raise TypeError("num_clusters must be a Python int or a constant in nanotf (got %r)" % (k,))
            k = int(k)
        else:
            given = np.asarray(self._initial_clusters)
            k = given.shape[0]
        inputs = self._inputs
        dtype = inputs[0].dtype
        centers_var, initialized, counts, updated, steps = self._create_variables(k, dtype)
        cosine = self._distance_metric == COSINE_DISTANCE
        g = inputs[0].graph
        init_inputs = list(inputs) + ([ops_mod.convert_to_tensor(given.astype(dtype.as_numpy_dtype))]
                                      if given is not None else [])
        init_op = g.create_op("KMeansInitializeClusters",
                              [centers_var._variable, updated._variable, initialized._variable,
                               ops_mod.convert_to_tensor(k, dtype=dtypes.int32)] + init_inputs,
                              {"initial_clusters": self._initial_clusters if given is None else "given",
                               "seed": self._seed, "retries": int(self._kmeans_plus_plus_num_retries),
                               "chain_length": self._kmc2_chain_length,
                               "cosine": cosine}, name="KMeansInitializeClusters")
        clusters = centers_var.value()
        if cosine:
            inputs = [nn_ops.l2_normalize(inp, axis=1) for inp in inputs]
            if not self._clusters_l2_normalized():
                clusters = nn_ops.l2_normalize(clusters, axis=1)
        all_scores = self._distance_graph(inputs, clusters, self._distance_metric)
        scores, cluster_idx = [], []
        for inp in inputs:
            idx, dist = nearest_neighbors(inp, clusters, 1)
            if cosine:
                dist = dist * 0.5
            scores.append(array_ops.squeeze(dist, [-1]))
            cluster_idx.append(array_ops.squeeze(idx, [-1]))
        if self._use_mini_batch:
            deps = []
            if steps is not None:
                deps = [g.create_op("KMeansMiniBatchSync", [steps._variable, centers_var._variable, updated._variable,
                                                            counts._variable],
                                    {"steps": self._mini_batch_steps_per_iteration, "cosine": cosine},
                                    name="KMeansMiniBatchSync")]
            with ops_mod.control_dependencies(deps):
                updates = [g.create_op("KMeansMiniBatchUpdate", [updated._variable, counts._variable, inp, idx],
                                       name="KMeansMiniBatchUpdate") for inp, idx in zip(inputs, cluster_idx)]
            from nanotf.ops import control_flow_ops
            training_op = control_flow_ops.group(*updates)
        else:
            parts = [cluster_sums(inp, idx, k) for inp, idx in zip(inputs, cluster_idx)]
            sums = math_ops.add_n([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
            cnts = math_ops.add_n([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
            new_centers = sums / (cnts + ops_mod.convert_to_tensor(1e-6, dtype=dtype))
            if self._clusters_l2_normalized():
                new_centers = nn_ops.l2_normalize(new_centers, axis=1)
            training_op = state_ops.assign(centers_var, new_centers, validate_shape=False)
        return all_scores, cluster_idx, scores, initialized, init_op, training_op
