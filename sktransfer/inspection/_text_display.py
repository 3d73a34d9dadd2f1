"""TextExplanationDisplay: texts with each word shaded by what it added to the explained score."""

from __future__ import annotations

import html

import numpy as np

from ..text import check_texts
from ._checks import check_network_estimator
from ._explain import explain
from ._plotting import check_true_labels, require_matplotlib

__all__ = ["TextExplanationDisplay"]

#: Shades for a word that speaks for the explained class (blue) and against it (red), as RGB in [0, 1].
FOR, AGAINST = (0.13, 0.40, 0.67), (0.70, 0.09, 0.17)


class TextExplanationDisplay:
    """Texts with every word shaded by its attribution: blue for, red against the explained class.

    Build it with :meth:`from_estimator`; the constructor takes computed
    values, as scikit-learn's displays do. :meth:`plot` draws a matplotlib
    figure; :meth:`to_html` (and a notebook's rich display) gives the same as
    HTML, each word's value in its tooltip. One colour scale serves every text
    shown, so a pale text is one whose words moved the score little.

    Parameters
    ----------
    texts : list of str
    words : list of list of str
        The words of each text, as ``explain`` returns them (``words``).
    contributions : list of array-like
        One value per word (``word_contributions``): what it added to the score.
    prediction : array-like of shape (n_texts,)
        The predicted label shown over each text.
    probability : array-like of shape (n_texts,) or None, default=None
        The explained class's probability, shown when finite.
    y_true : array-like of shape (n_texts,) or None, default=None
        True labels, shown when given.
    target : array-like of shape (n_texts,) or None, default=None
        The explained class, shown when it differs from the prediction.
    spans : list of ndarray of shape (n_words, 2) or None, default=None
        Each word's characters in its text (``word_spans``), so the text is
        shown as written; None joins the words with spaces.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
    words_ : list of list of matplotlib Text
        The words drawn, per text.
    scale_ : float
        The absolute contribution drawn at full strength.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktransfer.inspection import TextExplanationDisplay
    >>> display = TextExplanationDisplay(["a fine film"], [["a", "fine", "film"]], [[0.0, 0.8, -0.1]],
    ...                                  ["fresh"], [0.9]).plot()
    >>> len(display.words_[0]), display.scale_
    (3, 0.8)
    >>> 'title="+0.800"' in display.to_html()
    True
    """

    def __init__(self, texts, words, contributions, prediction, probability=None, y_true=None, target=None,
                 spans=None):
        self.texts = texts
        self.words = words
        self.contributions = contributions
        self.prediction = prediction
        self.probability = probability
        self.y_true = y_true
        self.target = target
        self.spans = spans

    def plot(self, ax=None, *, fontsize=10):
        """Draw the texts, wrapped to the Axes' width, one under another.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            None: a new figure, as tall as the texts need. An Axes: drawn from
            its top-left corner (its height is not changed).
        fontsize : float, default=10

        Returns
        -------
        display : TextExplanationDisplay
        """
        plt = require_matplotlib("TextExplanationDisplay")
        from matplotlib.transforms import ScaledTranslation

        self._check()
        new = ax is None
        if new:
            fig = plt.figure(figsize=(8.0, 1.0))
            ax = fig.add_axes((0.02, 0.0, 0.96, 1.0))
        fig = ax.figure
        ax.set_axis_off()
        renderer = fig.canvas.get_renderer()
        width = ax.get_position().width * fig.get_figwidth()  # inches
        line = fontsize * 1.7 / 72  # inches between lines
        self.scale_ = self._scale()
        self.words_, y = [], 0.15

        def put(x, y, text, **style):
            offset = ScaledTranslation(x, -y, fig.dpi_scale_trans)
            artist = ax.text(0, 1, text, transform=ax.transAxes + offset, va="top", ha="left", **style)
            box = artist.get_window_extent(renderer)
            return artist, box.width / fig.dpi

        put(0, y, self._legend(), fontsize=fontsize * 0.8, color="0.35")
        y += 1.4 * line
        for i in range(len(self.texts)):
            put(0, y, self._caption(i), fontsize=fontsize * 0.9, weight="bold")
            y += line
            x, drawn = 0.0, []
            space = put(0, y, "a a", fontsize=fontsize, alpha=0)[1] - put(0, y, "aa", fontsize=fontsize, alpha=0)[1]
            for piece, value in self._pieces(i):
                if value is None:  # the text between words: its spaces
                    x += space * piece.count(" ") if piece.strip() == "" else 0.0
                    continue
                style = dict(fontsize=fontsize, bbox=dict(boxstyle="square,pad=0.12", ec="none",
                                                           fc=self._shade(value)))
                artist, w = put(x, y, piece, **style)
                if x > 0 and x + w > width:  # wrap
                    artist.remove()
                    x, y = 0.0, y + line
                    artist, w = put(x, y, piece, **style)
                drawn.append(artist)
                x += w
            self.words_.append(drawn)
            y += 1.6 * line
        if new:
            fig.set_figheight(y + 0.1)
        self.figure_, self.ax_ = fig, ax
        return self

    def to_html(self):
        """The texts as HTML: each word a ``<span>`` shaded as in :meth:`plot`, its value as its ``title``.

        Returns
        -------
        html : str
        """
        self._check()
        self.scale_ = self._scale()
        parts = ['<div class="sktransfer-text-explanation" style="font-family: sans-serif; line-height: 1.8">',
                 f'<div style="font-size: 85%">{html.escape(self._legend())}</div>']
        for i in range(len(self.texts)):
            parts.append(f'<p><b>{html.escape(self._caption(i))}</b><br>')
            for piece, value in self._pieces(i):
                if value is None:
                    parts.append(html.escape(piece))
                else:
                    r, g, b, a = self._shade(value)
                    parts.append(f'<span style="background-color: rgba({round(255 * r)}, {round(255 * g)}, '
                                 f'{round(255 * b)}, {a:.2f})" title="{value:+.3f}">{html.escape(piece)}</span>')
            parts.append("</p>")
        return "".join(parts + ["</div>"])

    def _repr_html_(self):
        return self.to_html()

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, target=None, method="auto", ax=None, fontsize=10):
        """Explain ``X`` with :func:`~sktransfer.inspection.explain` and show each text's words.

        Parameters
        ----------
        estimator : fitted FineTunedClassifier or FineTunedRegressor over a language model
        X : list, 1-D array or pandas Series of str
            A handful of texts.
        y : array-like of shape (n_texts,) or None, default=None
            True labels to show.
        target, method
            As in :func:`~sktransfer.inspection.explain`.
        ax, fontsize
            As in :meth:`plot`.

        Returns
        -------
        display : TextExplanationDisplay
        """
        check_network_estimator(estimator, "TextExplanationDisplay", "a score to explain")
        if getattr(estimator.module_.encoder, "modality", "image") != "text":
            raise TypeError(f"TextExplanationDisplay shows texts; {type(estimator).__name__} explains images. "
                            "Use ExplanationDisplay.")
        y = check_true_labels(y, len(check_texts(X)), "text")  # before the explaining, which takes a while
        result = explain(estimator, X, target, method=method)
        display = cls(result.texts, result.words, result.word_contributions, result.prediction,
                      result.probability, y, result.target, result.word_spans)
        return display.plot(ax=ax, fontsize=fontsize)

    def _check(self):
        n = len(self.texts)
        if len(self.words) != n or len(self.contributions) != n or len(self.prediction) != n:
            raise ValueError(f"texts, words, contributions and prediction must have one entry per text; got {n}, "
                             f"{len(self.words)}, {len(self.contributions)} and {len(self.prediction)}.")
        for i, (words, values) in enumerate(zip(self.words, self.contributions)):
            if len(words) != len(values):
                raise ValueError(f"text {i} has {len(words)} words but {len(values)} contributions; pass one "
                                 "value per word (explain()'s words and word_contributions).")

    def _legend(self):
        return (f"blue: for the explained class, red: against; full colour: {self.scale_:.3g} of its score "
                "(log-odds, or the output of a regressor)")

    def _scale(self):
        values = [abs(float(v)) for c in self.contributions for v in np.ravel(c) if np.isfinite(v)]
        return max(values, default=0.0)

    def _shade(self, value):
        strength = 0.0 if self.scale_ <= 0 or not np.isfinite(value) else min(1.0, abs(value) / self.scale_)
        return (*(FOR if value >= 0 else AGAINST), 0.85 * strength)

    def _pieces(self, i):
        """``(text, value)`` for each word and ``(text, None)`` for what lies between words, in reading order."""
        values = np.ravel(np.asarray(self.contributions[i], dtype=np.float64))
        spans = None if self.spans is None else self.spans[i]
        if spans is None:
            for k, word in enumerate(self.words[i]):
                if k:
                    yield " ", None
                yield str(word), values[k]
            return
        text, end = self.texts[i], 0
        for (a, b), value in zip(np.asarray(spans, dtype=np.int64), values):
            if a > end:
                yield text[end:a], None
            yield text[a:b], value
            end = b
        for k, word in enumerate(text[end:].split(" ")):  # past the truncation: shown, unshaded
            if k:
                yield " ", None
            if word:
                yield word, 0.0

    def _caption(self, i):
        caption = f"pred: {self.prediction[i]}"
        if self.probability is not None and np.isfinite(self.probability[i]):
            caption += f" ({self.probability[i]:.2f})"
        if self.y_true is not None:
            caption += f"   true: {self.y_true[i]}"
        if self.target is not None and str(self.target[i]) != str(self.prediction[i]):
            caption += f"   shading explains: {self.target[i]}"
        return caption
