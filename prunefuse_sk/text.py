"""Text input for embedding networks: raw strings to padded token ids, built on scikit-learn.

:class:`TokenIds` learns its vocabulary with
:class:`~sklearn.feature_extraction.text.CountVectorizer` (same tokenizer, lower-casing,
``max_features`` and ``min_df``) and turns each document into a fixed-length row of int64 ids for
an ``nn.Embedding``/``nn.EmbeddingBag`` input layer. :class:`CharIds` does the same with
characters, for a character-level network such as
:class:`~prunefuse_sk.networks.CharCNN`, whose cost lives in convolutions rather than in a
vocabulary.
"""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = ["TokenIds", "CharIds", "PADDING_ID", "UNKNOWN_ID"]

PADDING_ID = 0  # fills the row after the document's last token
UNKNOWN_ID = 1  # a token outside the vocabulary


def _check_documents(X, what):
    """A list of str from an iterable of raw documents; a single string is refused."""
    if isinstance(X, (str, bytes)):
        raise ValueError(
            f"{what} expects an iterable of documents (e.g. a list of str), got a single string."
        )
    documents = list(
        X.ravel() if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1 else X
    )
    bad = next((i for i, d in enumerate(documents) if not isinstance(d, str)), None)
    if bad is not None:
        raise ValueError(
            f"{what} expects documents as str; item {bad} is {type(documents[bad]).__name__}."
        )
    return documents


def _id_rows(X, n_ids, kind):
    """``X`` as a 2-D integer array of ids in ``[0, n_ids)``, for ``inverse_transform``."""
    rows = np.asarray(X)
    if rows.ndim != 2 or not np.issubdtype(rows.dtype, np.integer):
        raise ValueError(
            f"inverse_transform expects a 2-D array of integer ids; got shape {rows.shape}, "
            f"dtype {rows.dtype}."
        )
    if rows.size and (rows.min() < 0 or rows.max() >= n_ids):
        raise ValueError(
            f"{kind} ids must be in [0, {n_ids - 1}]; got values from {rows.min()} to {rows.max()}."
        )
    return rows


class TokenIds(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Raw strings to padded/truncated int64 token ids for an embedding input layer.

    The vocabulary is that of a :class:`~sklearn.feature_extraction.text.CountVectorizer`
    fitted with the same ``lowercase``, ``token_pattern``, ``stop_words``,
    ``max_features`` and ``min_df``; token ``t`` gets id ``2 + CountVectorizer's index of t``,
    id 0 is padding and id 1 an unknown token. Each document becomes its first
    ``max_length`` tokens, in order, followed by padding.

    Parameters
    ----------
    max_length : int, default=256
        Tokens kept per document (columns of the output); longer documents are truncated.
    max_features : int, default=20000
        Vocabulary size: the most frequent tokens of the training documents (``None``: all).
    min_df : int, default=1
        Ignore tokens found in fewer training documents.
    lowercase : bool, default=True
    token_pattern : str, default=r"(?u)\\b\\w\\w+\\b"
        CountVectorizer's regular expression for a token.
    stop_words : {"english"}, list of str or None, default=None
        Tokens dropped before the vocabulary is built (and from every document).

    Attributes
    ----------
    vectorizer_ : CountVectorizer
        The fitted vectorizer whose analyzer tokenizes the documents.
    vocabulary_ : dict of str to int
        Token to id (2 and up).
    n_ids_ : int
        ``len(vocabulary_) + 2``: the ``num_embeddings`` an embedding layer needs.

    Examples
    --------
    >>> ids = TokenIds(max_length=5).fit(["the cat sat", "the dog sat down"])
    >>> ids.transform(["the cat ran"])
    array([[6, 2, 1, 0, 0]])
    >>> ids.n_ids_
    7
    >>> ids.inverse_transform(ids.transform(["the cat ran"]))
    ['the cat <unk>']
    """

    _parameter_constraints = {
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "min_df": [Interval(Integral, 1, None, closed="left")],
        "lowercase": ["boolean"],
        "token_pattern": [str],
        "stop_words": [StrOptions({"english"}), list, None],
    }

    def __init__(
        self,
        max_length=256,
        *,
        max_features=20000,
        min_df=1,
        lowercase=True,
        token_pattern=r"(?u)\b\w\w+\b",
        stop_words=None,
    ):
        self.max_length = max_length
        self.max_features = max_features
        self.min_df = min_df
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.stop_words = stop_words

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary of the documents ``X``.

        Parameters
        ----------
        X : iterable of str
            Raw documents (a list, a 1-D array, or an (n, 1) array of str).
        y : None
            Ignored.

        Returns
        -------
        self : TokenIds
        """
        documents = _check_documents(X, "TokenIds.fit")
        self.vectorizer_ = CountVectorizer(
            lowercase=self.lowercase,
            token_pattern=self.token_pattern,
            stop_words=self.stop_words,
            max_features=self.max_features,
            min_df=self.min_df,
        ).fit(documents)
        self.vocabulary_ = {
            token: index + 2 for token, index in self.vectorizer_.vocabulary_.items()
        }
        self.n_ids_ = len(self.vocabulary_) + 2
        self._n_features_out = self.max_length
        return self

    def transform(self, X):
        """Token ids of each document, truncated to ``max_length`` and padded with 0.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        ids : ndarray of shape (n_documents, max_length), int64
        """
        check_is_fitted(self, "vocabulary_")
        documents = _check_documents(X, "TokenIds.transform")
        analyze, vocabulary = self.vectorizer_.build_analyzer(), self.vocabulary_
        ids = np.full((len(documents), self.max_length), PADDING_ID, dtype=np.int64)
        for row, document in enumerate(documents):
            tokens = analyze(document)[: self.max_length]
            ids[row, : len(tokens)] = [vocabulary.get(token, UNKNOWN_ID) for token in tokens]
        return ids

    def inverse_transform(self, X):
        """The tokens behind rows of ids, joined by spaces (padding dropped, ``<unk>`` for unknown).

        Parameters
        ----------
        X : array-like of shape (n_documents, max_length), int

        Returns
        -------
        documents : list of str
        """
        check_is_fitted(self, "vocabulary_")
        tokens = np.empty(self.n_ids_, dtype=object)
        tokens[PADDING_ID], tokens[UNKNOWN_ID] = "", "<unk>"
        for token, index in self.vocabulary_.items():
            tokens[index] = token
        rows = _id_rows(X, self.n_ids_, "Token")
        return [" ".join(t for t in tokens[row] if t) for row in rows]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


class CharIds(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Raw strings to padded/truncated int64 character ids for a character-level network.

    The alphabet is the ``max_features`` most frequent characters of the training documents
    (ties: the earlier character in code-point order), or the characters of ``alphabet``;
    character ``c`` gets id ``2 + its position in alphabet_``, id 0 is padding and id 1 an
    unknown character. Each document becomes its first ``max_length`` characters, in order,
    followed by padding.

    Parameters
    ----------
    max_length : int, default=512
        Characters kept per document (columns of the output); longer documents are truncated.
    max_features : int, default=100
        Alphabet size when it is learned from the documents.
    lowercase : bool, default=True
        Lower-case the documents first.
    alphabet : str, default=None
        A fixed alphabet instead of a learned one, e.g. Zhang et al.'s (2015) 70 characters
        ``string.ascii_lowercase + string.digits + string.punctuation + "\\n"``.

    Attributes
    ----------
    alphabet_ : str
        The characters that have an id, in id order (id 2 first).
    n_ids_ : int
        ``len(alphabet_) + 2``: the ``num_embeddings`` an embedding layer needs.

    Examples
    --------
    >>> chars = CharIds(max_length=6).fit(["abba", "cab"])
    >>> chars.alphabet_
    'abc'
    >>> chars.transform(["Cab!"])
    array([[4, 2, 3, 1, 0, 0]])
    >>> chars.inverse_transform(chars.transform(["Cab!"]))
    ['cab\ufffd']
    """

    _parameter_constraints = {
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left")],
        "lowercase": ["boolean"],
        "alphabet": [str, None],
    }

    def __init__(self, max_length=512, *, max_features=100, lowercase=True, alphabet=None):
        self.max_length = max_length
        self.max_features = max_features
        self.lowercase = lowercase
        self.alphabet = alphabet

    def _codes(self, document):
        text = document.lower() if self.lowercase else document
        return np.frombuffer(text[: self.max_length].encode("utf-32-le"), dtype=np.uint32)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the alphabet of the documents ``X`` (or take ``alphabet``).

        Parameters
        ----------
        X : iterable of str
            Raw documents (a list, a 1-D array, or an (n, 1) array of str).
        y : None
            Ignored.

        Returns
        -------
        self : CharIds

        Raises
        ------
        ValueError
            If ``alphabet`` is empty or repeats a character, or the documents hold no
            character.
        """
        documents = _check_documents(X, "CharIds.fit")
        if self.alphabet is not None:
            if not self.alphabet or len(set(self.alphabet)) != len(self.alphabet):
                raise ValueError(
                    f"alphabet must hold each character once; got {self.alphabet!r}. Pass a "
                    "string of distinct characters, or None to learn the alphabet."
                )
            alphabet = self.alphabet.lower() if self.lowercase else self.alphabet
            alphabet = "".join(dict.fromkeys(alphabet))
        else:
            counts = {}
            for document in documents:  # every character, not only the first max_length
                text = document.lower() if self.lowercase else document
                codes, n = np.unique(
                    np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), return_counts=True
                )
                for code, count in zip(codes.tolist(), n.tolist()):
                    counts[code] = counts.get(code, 0) + count
            if not counts:
                raise ValueError("CharIds.fit got documents without a single character.")
            ranked = sorted(counts, key=lambda code: (-counts[code], code))
            alphabet = "".join(chr(code) for code in ranked[: self.max_features])
        self.alphabet_ = alphabet
        self.n_ids_ = len(alphabet) + 2
        codes = np.frombuffer(alphabet.encode("utf-32-le"), dtype=np.uint32)
        self._lookup = np.full(int(codes.max()) + 1, UNKNOWN_ID, dtype=np.int64)
        self._lookup[codes] = np.arange(2, len(codes) + 2)
        self._n_features_out = self.max_length
        return self

    def transform(self, X):
        """Character ids of each document, truncated to ``max_length`` and padded with 0.

        Parameters
        ----------
        X : iterable of str

        Returns
        -------
        ids : ndarray of shape (n_documents, max_length), int64
        """
        check_is_fitted(self, "alphabet_")
        documents = _check_documents(X, "CharIds.transform")
        ids = np.full((len(documents), self.max_length), PADDING_ID, dtype=np.int64)
        lookup = self._lookup
        for row, document in enumerate(documents):
            codes = self._codes(document)
            known = codes < len(lookup)
            ids[row, : len(codes)] = np.where(known, lookup[np.where(known, codes, 0)], UNKNOWN_ID)
        return ids

    def inverse_transform(self, X):
        """The characters behind rows of ids (padding dropped, U+FFFD for unknown).

        Parameters
        ----------
        X : array-like of shape (n_documents, max_length), int

        Returns
        -------
        documents : list of str
        """
        check_is_fitted(self, "alphabet_")
        characters = np.array(["", "\ufffd", *self.alphabet_], dtype=object)
        rows = _id_rows(X, self.n_ids_, "Character")
        return ["".join(characters[row]) for row in rows]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
