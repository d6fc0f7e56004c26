"""Scoring functions for the two extraction evaluation layouts.

Kept apart from the command so the quality-gate tests and the benchmark share one implementation
of each metric; both restate the published definitions exactly (see the PROVENANCE.md of each
data set), because a home-made metric would make our figures incomparable with the published ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
SHINGLE = 4


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text or "")


def shingles(tokens: list[str], size: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Multiset of word n-gram shingles; texts shorter than ``size`` give one short shingle.

    The scrapinghub benchmark pads nothing: a document with fewer tokens than the shingle size
    contributes a single shingle of all its tokens, so that a one-word body still counts.
    """
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


@dataclass(frozen=True)
class DocScore:
    tp: float
    fp: float
    fn: float
    exact: bool


def score_document(true_text: str, predicted_text: str) -> DocScore:
    """Per-document shingle TP/FP/FN normalised by TP+FP+FN (article-extraction-benchmark)."""
    true_tokens, pred_tokens = tokenize(true_text), tokenize(predicted_text)
    true_sh, pred_sh = shingles(true_tokens), shingles(pred_tokens)
    tp = fp = fn = 0
    for key in set(true_sh) | set(pred_sh):
        t, p = true_sh.get(key, 0), pred_sh.get(key, 0)
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    total = tp + fp + fn
    if total == 0:
        return DocScore(0.0, 0.0, 0.0, true_tokens == pred_tokens)
    return DocScore(tp / total, fp / total, fn / total, true_tokens == pred_tokens)


def aggregate_shingle_scores(
    scores: Iterable[DocScore], recall_only: Iterable[bool] | None = None
) -> dict[str, float]:
    """Macro precision and recall over documents, F1 of the means, and exact-match accuracy.

    ``recall_only`` flags documents whose reference is only a snippet of the body: they count
    for recall and accuracy but not for precision (the rest of the body is not a false positive).
    """
    scores = list(scores)
    flags = list(recall_only) if recall_only is not None else [False] * len(scores)
    precisions = [
        s.tp / (s.tp + s.fp)
        for s, only in zip(scores, flags, strict=True)
        if s.tp + s.fp > 0 and not only
    ]
    recalls = [s.tp / (s.tp + s.fn) for s in scores if s.tp + s.fn > 0]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(s.exact for s in scores) / len(scores) if scores else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "accuracy": accuracy}


@dataclass
class SegmentCounts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def add(self, text: str, with_segments: Iterable[str], without_segments: Iterable[str]) -> None:
        """trafilatura's own evaluation: substring presence of must/must-not segments."""
        text = text or ""
        for segment in with_segments:
            if segment in text:
                self.tp += 1
            else:
                self.fn += 1
        for segment in without_segments:
            if segment in text:
                self.fp += 1
            else:
                self.tn += 1

    def summary(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        total = self.tp + self.fn + self.fp + self.tn
        accuracy = (self.tp + self.tn) / total if total else 0.0
        return {"f1": f1, "precision": precision, "recall": recall, "accuracy": accuracy}
