"""Skip-gram word embeddings trained with noise-contrastive estimation (TF 1.x graph style, as
TensorFlow's word2vec_basic.py): tf.nn.embedding_lookup + tf.nn.nce_loss + gradient descent.

The corpus is synthetic (nothing is downloaded): `--vocabulary_size` words fall into `--topics` topics; each
sentence draws its words from one topic (plus 10% of words from anywhere). Words of one topic share their
contexts, so good embeddings put them close together. Evaluated by the fraction of words whose nearest
neighbour (cosine similarity of the normalized embeddings) belongs to the same topic; chance is about
1 / topics.

    python word2vec_nce.py [--fake_data] [--steps N]

prints `nearest-neighbour topic accuracy 0.xxxx` on its last line (--fake_data is accepted for symmetry with
the other programs; the corpus is always synthetic).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _framework import tf  # noqa: E402
import _scaffolding  # noqa: E402
import numpy as np  # noqa: E402


def make_corpus(rng, vocabulary_size, topics, sentences, sentence_length):
    topic_of = np.arange(vocabulary_size) % topics
    words = []
    for _ in range(sentences):
        t = rng.randint(topics)
        members = np.flatnonzero(topic_of == t)
        sentence = rng.choice(members, sentence_length)
        noise = rng.rand(sentence_length) < 0.1
        sentence[noise] = rng.randint(0, vocabulary_size, int(noise.sum()))
        words.append(sentence)
    return words, topic_of


def skipgram_pairs(sentences, window):
    centers, contexts = [], []
    for s in sentences:
        for i, w in enumerate(s):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                if j != i:
                    centers.append(w)
                    contexts.append(s[j])
    return np.array(centers, np.int64), np.array(contexts, np.int64)


def main(argv=None):
    # --fake_data and --data_dir are accepted and unused: the corpus is synthetic
    args = _scaffolding.parse_args(__doc__, argv, steps=3000, batch_size=128, embedding_size=32, num_sampled=16,
                                   vocabulary_size=200, topics=10)
    rng = np.random.RandomState(0)
    sentences, topic_of = make_corpus(rng, args.vocabulary_size, args.topics, 2000, 12)
    centers, contexts = skipgram_pairs(sentences, window=2)

    tf.reset_default_graph()
    tf.set_random_seed(0)
    train_inputs = tf.placeholder(tf.int32, shape=[args.batch_size])
    train_labels = tf.placeholder(tf.int32, shape=[args.batch_size, 1])
    embeddings = tf.Variable(tf.random_uniform([args.vocabulary_size, args.embedding_size], -1.0, 1.0))
    embed = tf.nn.embedding_lookup(embeddings, train_inputs)
    nce_weights = tf.Variable(tf.truncated_normal([args.vocabulary_size, args.embedding_size],
                                                  stddev=1.0 / np.sqrt(args.embedding_size)))
    nce_biases = tf.Variable(tf.zeros([args.vocabulary_size]))
    loss = tf.reduce_mean(tf.nn.nce_loss(weights=nce_weights, biases=nce_biases, labels=train_labels,
                                         inputs=embed, num_sampled=args.num_sampled,
                                         num_classes=args.vocabulary_size))
    optimizer = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
    norm = tf.sqrt(tf.reduce_sum(tf.square(embeddings), 1, keepdims=True))
    normalized = embeddings / norm
    similarity = tf.matmul(normalized, normalized, transpose_b=True)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        average = 0.0
        for step, idx in _scaffolding.random_batches(rng, len(centers), args.batch_size, args.steps):
            _, lv = sess.run([optimizer, loss], {train_inputs: centers[idx], train_labels: contexts[idx, None]})
            average += lv
            if (step + 1) % 1000 == 0:
                print("average loss at step %d: %.4f" % (step + 1, average / 1000))
                average = 0.0
        sim = sess.run(similarity)
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(1)
    accuracy = float(np.mean(topic_of[nearest] == topic_of))
    print("nearest-neighbour topic accuracy %.4f" % accuracy)
    return accuracy


if __name__ == "__main__":
    main()
