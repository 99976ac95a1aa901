"""Seeded generator of multi-sentence reviewer reports for the many-to-one task.

A report is labelled accept | minor | major | reject by a rule over what the reviewer actually
asserts, aspect by aspect (documented in data/raw/review/README.md):

* Every report judges 2-3 *core* aspects (soundness: the evaluation, the proofs, the baselines
  ...) and 2-3 *presentation* aspects (the writing, the figures, the related work ...). How
  many of each is drawn independently of the decision.
* A judgement is a strength or a weakness. A weakness of a core aspect is a major issue (the
  paper's claims do not stand), a weakness of a presentation aspect a minor one (fixable).
* Decision (`decide`): accept = no weakness; minor = presentation weaknesses only; major =
  exactly one core weakness; reject = two or more core weaknesses.

What makes it hard for a bag of words (and why an RNN can do it):

* Long-range negation. A strength is written either "the evaluation is convincing" or "I do
  not think that the evaluation is weak"; a weakness either "the evaluation is weak" or "I
  doubt that the evaluation is convincing" (30% of judgements are negated). The negator sits 3+
  words before the adjective, so no unigram or bigram links them: the adjective's polarity XOR
  the frame decides, which a linear model over n-gram counts cannot represent. Positive and
  negative adjectives and negators occur in every class.
* Severity is not a word: it is the binding of a weakness to an aspect *kind*, and core and
  presentation aspects are mentioned equally often in every class.
* Reported speech carries no opinion: "the authors claim that the baselines are weak" says
  nothing about the paper's fate, yet adds evaluative words.
* Mixed cues: strengths and weaknesses in the same report, contrast sentences ("although ...
  , ..."), hedges ("perhaps", "arguably", "somewhat", "as far as I can tell") that do not change
  the polarity, and a neutral summary, closing and questions. Counting separates major (one
  core weakness) from reject (two or more).
"""

from __future__ import annotations

import random

CLASSES: tuple[str, ...] = ("accept", "minor", "major", "reject")
SPLITS: tuple[str, ...] = ("train", "dev", "test")

# fmt: off
CORE: tuple[str, ...] = (
    "the evaluation", "the experimental setup", "the main proof", "the theoretical analysis",
    "the comparison with baselines", "the statistical analysis", "the ablation study",
    "the central claim", "the choice of datasets", "the error analysis",
)
PRESENTATION: tuple[str, ...] = (
    "the writing", "the related work section", "the figures", "the notation",
    "the introduction", "the abstract", "the tables", "the appendix", "the organisation",
    "the list of references",
)
PLURAL = frozenset({"the figures", "the tables"})
POSITIVE: tuple[str, ...] = (
    "convincing", "solid", "clear", "careful", "thorough", "sound", "strong", "adequate",
    "excellent", "well done",
)
NEGATIVE: tuple[str, ...] = (
    "weak", "unconvincing", "sloppy", "unclear", "flawed", "careless", "poor", "inadequate",
    "problematic", "confusing",
)
# Frames around "<aspect> is <adjective>". Each affirming frame has a negated twin that differs
# only by words several positions before the adjective.
AFFIRM: tuple[str, ...] = (
    "{C}", "{C}", "{C}", "I think that {C}", "I would say that {C}", "it is true that {C}",
    "I agree that {C}", "I believe that {C}", "in my view , {C}", "it is fair to say that {C}",
    "everyone would agree that {C}",
)
NEGATE: tuple[str, ...] = (
    "I do not think that {C}", "I would not say that {C}", "it is not true that {C}",
    "I cannot agree that {C}", "I doubt that {C}", "it would be wrong to say that {C}",
    "nobody would agree that {C}", "I am not convinced that {C}",
)
REPORTED: tuple[str, ...] = (
    "the authors claim that {C}", "the abstract states that {C}",
    "the authors argue that {C}", "according to the authors , {C}",
    "the rebuttal says that {C}", "another reviewer felt that {C}",
)
# Hedges and intensifiers: polarity-preserving, equally likely everywhere.
DEGREE: tuple[str, ...] = (
    "", "", "", "", "rather", "quite", "very", "somewhat", "fairly", "reasonably", "a bit",
    "perhaps", "arguably", "slightly", "really",
)
HEDGE: tuple[str, ...] = (
    "to some extent ,", "as far as I can tell ,", "on balance ,", "honestly ,", "arguably ,",
    "if I understand correctly ,", "frankly ,", "at first sight ,",
)
CONTRAST: tuple[str, ...] = (
    "{A} , but {B}", "although {A} , {B}", "{A} ; however , {B}", "{A} , and {B}",
    "{A} , while {B}", "while {A} , {B}",
)
SUMMARY: tuple[str, ...] = (
    "this paper proposes {METHOD} for {PROBLEM}", "the authors present {METHOD} for {PROBLEM}",
    "the submission studies {PROBLEM} and introduces {METHOD}",
    "this work tackles {PROBLEM} with {METHOD}",
)
METHOD: tuple[str, ...] = (
    "a recurrent model", "a graph-based method", "a new attention mechanism",
    "a simple baseline", "a probabilistic framework", "a data augmentation scheme",
    "a pretraining objective", "a sampling algorithm", "a neural parser", "a retrieval approach",
)
PROBLEM: tuple[str, ...] = (
    "machine translation", "entity linking", "question answering", "speech recognition",
    "image captioning", "text classification", "relation extraction", "summarisation",
    "dependency parsing", "dialogue generation",
)
EXTRA: tuple[str, ...] = (
    "the experiments use {N} datasets", "the code is said to be released later",
    "the method is evaluated on {N} languages", "the paper is {N} pages long",
    "results are reported on {N} benchmarks",
)
CLOSING: tuple[str, ...] = (
    "I thank the authors for the submission", "please find my detailed comments above",
    "I read the paper twice", "I look forward to the discussion",
    "my confidence in this assessment is moderate", "I have no conflict of interest",
)
QUESTION: tuple[str, ...] = (
    "how sensitive is the method to the learning rate ?",
    "what happens with fewer training examples ?",
    "how long does training take ?", "is the code going to be released ?",
    "why was the second dataset chosen ?", "how were the hyperparameters tuned ?",
    "could the approach work for other languages ?",
)
NUMBERS: tuple[str, ...] = ("two", "three", "four", "five", "six", "2", "3", "4", "7", "12")
# fmt: on

NEGATE_RATE = 0.3  # share of judgements written through a negated frame
REPORTED_RATE = 0.5  # share of reports quoting the authors' own claims
HEDGE_RATE = 0.2
CONTRAST_RATE = 0.3  # share of judgement pairs joined into one sentence
EXTRA_RATE = 0.3
CLOSING_RATE = 0.4
QUESTIONS_RATE = 0.15  # share of reports ending with questions to the authors (long tail)


def decide(core_weak: int, pres_weak: int) -> str:
    """The labelling rule: severity comes from the aspect kind, counts from the report."""
    if core_weak >= 2:
        return "reject"
    if core_weak == 1:
        return "major"
    return "minor" if pres_weak >= 1 else "accept"


def _weaknesses(label: str, n_core: int, n_pres: int, rng: random.Random) -> tuple[int, int]:
    """How many core and presentation aspects the reviewer finds weak, given the decision."""
    if label == "accept":
        return 0, 0
    if label == "minor":
        return 0, rng.randint(1, n_pres)
    if label == "major":
        return 1, rng.randint(0, n_pres)
    return rng.randint(2, n_core), rng.randint(0, n_pres)


def _clause(aspect: str, positive: bool, rng: random.Random) -> str:
    degree = rng.choice(DEGREE)
    adjective = rng.choice(POSITIVE if positive else NEGATIVE)
    verb = "are" if aspect in PLURAL else "is"
    return " ".join(w for w in (aspect, verb, degree, adjective) if w)


def judgement(aspect: str, strength: bool, rng: random.Random) -> str:
    """One opinion: the adjective's polarity XOR a negated frame gives `strength`."""
    negated = rng.random() < NEGATE_RATE
    frame = rng.choice(NEGATE if negated else AFFIRM)
    text = frame.format(C=_clause(aspect, strength != negated, rng))
    if rng.random() < HEDGE_RATE:
        text = f"{rng.choice(HEDGE)} {text}"
    return text


def _fill(template: str, rng: random.Random) -> str:
    return template.format(METHOD=rng.choice(METHOD), PROBLEM=rng.choice(PROBLEM),
                           N=rng.choice(NUMBERS))


def _sentence(text: str) -> str:
    text = text.strip()
    if not text.endswith("?"):
        text += " ."
    return text[0].upper() + text[1:]


def make_report(label: str, rng: random.Random) -> str:
    """Render one report whose true decision is `label`."""
    if label not in CLASSES:
        raise ValueError(f"label must be one of {CLASSES}, got {label!r}")
    n_core, n_pres = rng.randint(2, 3), rng.randint(2, 3)
    core_weak, pres_weak = _weaknesses(label, n_core, n_pres, rng)
    assert decide(core_weak, pres_weak) == label
    core = [(a, i >= core_weak) for i, a in enumerate(rng.sample(CORE, n_core))]
    pres = [(a, i >= pres_weak) for i, a in enumerate(rng.sample(PRESENTATION, n_pres))]
    clauses = [judgement(a, s, rng) for a, s in core + pres]
    # reported speech: evaluative words without the reviewer's opinion
    for _ in range(rng.random() < REPORTED_RATE):
        aspect = rng.choice(CORE + PRESENTATION)
        clauses.append(rng.choice(REPORTED).format(C=_clause(aspect, rng.random() < 0.5, rng)))
    rng.shuffle(clauses)
    body: list[str] = []
    while clauses:
        if len(clauses) >= 2 and rng.random() < CONTRAST_RATE:
            a, b = clauses.pop(), clauses.pop()
            body.append(rng.choice(CONTRAST).format(A=a, B=b))
        else:
            body.append(clauses.pop())
    head = [_fill(rng.choice(SUMMARY), rng)]
    if rng.random() < EXTRA_RATE:
        head.append(_fill(rng.choice(EXTRA), rng))
    tail = [rng.choice(CLOSING)] if rng.random() < CLOSING_RATE else []
    if rng.random() < QUESTIONS_RATE:
        tail += rng.sample(QUESTION, rng.randint(2, 5))
    return " ".join(_sentence(s) for s in head + body + tail)


def generate(n_train: int, n_dev: int, n_test: int, seed: int,
             priors: tuple[float, ...] = (0.2, 0.3, 0.3, 0.2)) -> dict[str, list[tuple[str, str]]]:
    """(report, decision) pairs per split; deterministic for a seed, no report in two splits.

    `priors` are the class shares (accept, minor, major, reject): mildly imbalanced by default,
    as real decisions are."""
    if min(n_train, n_dev, n_test) < 0:
        raise ValueError("report counts must be non-negative")
    master = random.Random(seed)
    # one generator per split: train does not change when the dev or test size changes
    rngs = {name: random.Random(master.getrandbits(64)) for name in SPLITS}
    seen: set[str] = set()
    out: dict[str, list[tuple[str, str]]] = {}
    for split, n in zip(SPLITS, (n_train, n_dev, n_test), strict=True):
        rng, rows = rngs[split], []
        tries = 0
        while len(rows) < n:
            tries += 1
            if tries > 20 * n + 1000:
                raise RuntimeError(f"could only draw {len(rows)} distinct {split} reports")
            label = rng.choices(CLASSES, weights=priors)[0]
            text = make_report(label, rng)
            if text not in seen:  # a report never repeats, within or across splits
                seen.add(text)
                rows.append((text, label))
        out[split] = rows
    return out
