"""One online decision tree of tensor_forest (TF's V4 "extremely random" trees), in NumPy.

Nodes live in arrays of capacity max_nodes; node 0 is the root, an internal node's children are
`left[n]` and `left[n] + 1`. Each leaf keeps class counts (its model: probabilities come from them).
A leaf that may still split ("fertile") keeps up to num_splits_to_consider candidate splits
(feature, threshold), each drawn when an example reaches the leaf: a random feature and that
example's value of it. Every later example at the leaf adds to the per-candidate class counts of
its left side. Once split_after_samples examples have reached the leaf, the candidate with the
lowest weighted Gini impurity splits it, and the two new leaves start from that candidate's left and
right class counts; a candidate that separates nothing is discarded and new ones are drawn. The tree
stops growing at max_nodes nodes. Everything a training step does is vectorized over the batch.
"""
import numpy as np


class Tree:
    def __init__(self, num_classes, num_features, max_nodes, num_splits, split_after_samples, seed,
                 bagging_fraction=1.0, features=None):
        self.C, self.F = int(num_classes), int(num_features)
        self.cap = max(int(max_nodes), 1)
        self.S = int(num_splits)
        self.split_after = int(split_after_samples)
        self.bagging_fraction = float(bagging_fraction)
        self.features = None if features is None else np.asarray(features, dtype=np.int64)
        self.rng = np.random.default_rng(seed)
        cap, S, C = self.cap, self.S, self.C
        self.n_nodes = 1
        self.feature = np.full(cap, -1, np.int64)       # -1: a leaf
        self.threshold = np.zeros(cap, np.float32)
        self.left = np.zeros(cap, np.int64)
        self.counts = np.zeros((cap, C), np.float64)    # leaf models
        # fertile statistics, indexed by leaf
        self.ncand = np.zeros(cap, np.int64)
        self.cand_feature = np.zeros((cap, S), np.int64)
        self.cand_threshold = np.zeros((cap, S), np.float32)
        self.left_counts = np.zeros((cap, S, C), np.float64)
        self.stat_counts = np.zeros((cap, C), np.float64)
        self.seen = np.zeros(cap, np.int64)

    # -- inference
    def leaves(self, x):
        """The leaf each row of x reaches (x <= threshold goes left). Works level by level on the rows
        still inside the tree, reading x through its flat index (one gather per level)."""
        n = x.shape[0]
        node = np.zeros(n, np.int64)
        if self.feature[0] < 0:
            return node
        flat, width = x.reshape(-1), x.shape[1]
        rows = np.arange(n)
        base = rows * width
        cur = node.copy()
        feature, threshold, left = self.feature, self.threshold, self.left
        while rows.size:
            cur = left[cur] + (flat[base + feature[cur]] > threshold[cur])
            inner = feature[cur] >= 0
            if not inner.all():
                done = ~inner
                node[rows[done]] = cur[done]
                rows, base, cur = rows[inner], base[inner], cur[inner]
        return node

    def probabilities(self, x):
        c = self.counts[self.leaves(x)]
        return ((c + 1.0) / (c.sum(axis=1, keepdims=True) + self.C)).astype(np.float32)

    # -- training
    def train(self, x, y):
        x = np.asarray(x, dtype=np.float32)
        if self.features is not None:
            x = x[:, self.features]
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if x.shape[0] != y.shape[0]:
            raise ValueError("tensor_forest: %d examples but %d labels" % (x.shape[0], y.shape[0]))
        if y.size and (y.min() < 0 or y.max() >= self.C):
            raise ValueError("tensor_forest: labels must be in [0, %d), got %d..%d" % (self.C, y.min(), y.max()))
        if self.bagging_fraction < 1.0:
            keep = self.rng.random(x.shape[0]) < self.bagging_fraction
            x, y = x[keep], y[keep]
        if not y.size:
            return
        leaf = self.leaves(x)
        np.add.at(self.counts.reshape(-1), leaf * self.C + y, 1.0)
        if self.n_nodes + 2 > self.cap:
            return   # full: no more splits, no statistics to keep
        self._add_candidates(x, leaf)
        self._accumulate(x, y, leaf)
        self._grow()

    def _add_candidates(self, x, leaf):
        """The first examples reaching a leaf with free candidate slots each add one candidate."""
        order = np.argsort(leaf, kind="stable")
        sl = leaf[order]
        starts = np.r_[0, np.flatnonzero(sl[1:] != sl[:-1]) + 1]
        pos = np.arange(sl.size) - np.repeat(starts, np.diff(np.r_[starts, sl.size]))
        slot = self.ncand[sl] + pos
        new = slot < self.S
        if not new.any():
            return
        ex, lf, sl_ = order[new], sl[new], slot[new]
        feats = self.rng.integers(0, x.shape[1], size=ex.size)
        self.cand_feature[lf, sl_] = feats
        self.cand_threshold[lf, sl_] = x[ex, feats]
        np.maximum.at(self.ncand, lf, sl_ + 1)

    def _accumulate(self, x, y, leaf):
        S, C = self.S, self.C
        nc = self.ncand[leaf]
        values = x[np.arange(x.shape[0])[:, None], self.cand_feature[leaf]]          # [B, S]
        goes_left = (values <= self.cand_threshold[leaf]) & (np.arange(S)[None, :] < nc[:, None])
        rows, slots = np.nonzero(goes_left)
        flat = (leaf[rows] * S + slots) * C + y[rows]
        np.add.at(self.left_counts.reshape(-1), flat, 1.0)   # a few thousand hits in a large table
        np.add.at(self.stat_counts.reshape(-1), leaf * C + y, 1.0)
        np.add.at(self.seen, leaf, 1)

    def _grow(self):
        ready = np.flatnonzero((self.seen >= self.split_after) & (self.feature < 0))
        for n in ready:
            if self.n_nodes + 2 > self.cap:
                return
            k = self.ncand[n]
            total = self.stat_counts[n]
            lc = self.left_counts[n, :k]
            rc = total[None, :] - lc
            nl, nr = lc.sum(1), rc.sum(1)
            with np.errstate(invalid="ignore", divide="ignore"):
                gini = (nl - (lc ** 2).sum(1) / np.maximum(nl, 1)) + (nr - (rc ** 2).sum(1) / np.maximum(nr, 1))
            gini[(nl == 0) | (nr == 0)] = np.inf
            parent = total.sum() - (total ** 2).sum() / max(total.sum(), 1)
            best = int(np.argmin(gini)) if k else -1
            if best >= 0 and gini[best] < parent - 1e-9:
                child = self.n_nodes
                self.feature[n] = self.cand_feature[n, best]
                self.threshold[n] = self.cand_threshold[n, best]
                self.left[n] = child
                self.counts[child] = lc[best]
                self.counts[child + 1] = rc[best]
                self.n_nodes += 2
            self._clear_stats(n)

    def _clear_stats(self, n):
        self.ncand[n] = 0
        self.seen[n] = 0
        self.left_counts[n] = 0
        self.stat_counts[n] = 0

    def size(self):
        return self.n_nodes

    def feature_usage_counts(self, num_features):
        """How many internal nodes split on each (original, unbagged) feature."""
        used = self.feature[:self.n_nodes]
        used = used[used >= 0]
        if self.features is not None:
            used = self.features[used]
        return np.bincount(used, minlength=num_features).astype(np.int32)
