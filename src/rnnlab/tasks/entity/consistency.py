"""After the tagger: the training dictionary, and label consistency across neighbouring sentences.

The dictionary: every training name the tagger left O is tagged where it matches (the
gazetteer's longest matches; the tagger's own entities stay).

Label consistency: a name the tagger found once is a name wherever it recurs close by ("one
sense per discourse"; Krishnan & Manning 2006 learn it with a second CRF, here it is a rule).
Species names repeat within an article, and are abbreviated after their first mention
("Lutzomyia whitmani" ... "L . whitmani").

Corpora in IOB files carry no document marks, but their sentences are in reading order; the
neighbourhood is `window` sentences either side. A served request is read the same way: its
texts, in order, are the neighbourhood.
"""

from __future__ import annotations

from collections import Counter

from rnnlab.tasks.entity.data import Gazetteer, spans

Name = tuple[str, ...]


def abbreviations(name: Name) -> list[Name]:
    """ "Lutzomyia whitmani" -> "L . whitmani" and "L. whitmani" (both tokenisations): the
    genus shortened to its initial, as a text repeats a binomial."""
    first = name[0]
    if len(name) < 2 or len(first) < 2 or not first[0].isupper() or not first.isalpha():
        return []
    return [(first[0], ".", *name[1:]), (f"{first[0]}.", *name[1:])]


def found_names(tokens: list[str], tags: list[str], abbreviate: bool) -> Counter[tuple[Name, str]]:
    """The (name, type) pairs a tagging found in one sentence, with their abbreviations."""
    out: Counter[tuple[Name, str]] = Counter()
    for kind, i, j in spans(tags):
        name = tuple(tokens[i:j])
        out[name, kind] += 1
        if abbreviate:
            out.update((short, kind) for short in abbreviations(name))
    return out


def merge(tags: list[str], extra: list[str]) -> list[str]:
    """The tagger's entities, plus every entity of `extra` whose words it left all O."""
    out = list(tags)
    for kind, i, j in spans(extra):
        if all(t == "O" for t in tags[i:j]):
            out[i:j] = [f"B-{kind}"] + [f"I-{kind}"] * (j - i - 1)
    return out


def occurrences(tokens: list[str], names: set[Name], longest: int) -> Counter[Name]:
    """How often each of `names` occurs in one sentence (every position, overlaps too)."""
    n_tok = len(tokens)
    return Counter(g for n in range(1, min(longest, n_tok) + 1) for i in range(n_tok - n + 1)
                   if (g := tuple(tokens[i:i + n])) in names)


def propagate(tokens: list[list[str]], tags: list[list[str]], window: int,
              min_share: float = 0.0, abbreviate: bool = True) -> list[list[str]]:
    """Each sentence's tags plus every exact recurrence (longest first, one entity per match)
    of a name tagged in it or in the `window` sentences before and after it, if the tagger
    tagged at least `min_share` of that name's occurrences there (a majority vote guards
    against spreading one mistake); 0 leaves the tags as they are. A name takes the type the
    neighbourhood gave it most often."""
    if window <= 0:
        return [list(t) for t in tags]
    found = [found_names(w, list(t), abbreviate) for w, t in zip(tokens, tags, strict=True)]
    names = {name for f in found for name, _ in f}
    longest = max(map(len, names), default=0)
    seen = [occurrences(w, names, longest) for w in tokens]
    near: Counter[tuple[Name, str]] = Counter()  # names tagged in sentences i - window..i + window
    occurs: Counter[Name] = Counter()  # and how often they occur there
    for f, o in zip(found[:window], seen[:window], strict=True):
        near.update(f)
        occurs.update(o)
    out = []
    for i, (words, tagging) in enumerate(zip(tokens, tags, strict=True)):
        if i + window < len(found):
            near.update(found[i + window])
            occurs.update(seen[i + window])
        if i - window - 1 >= 0:
            near.subtract(found[i - window - 1])
            occurs.subtract(seen[i - window - 1])
            near = +near  # drop the names no sentence in the window tagged any more
        kinds: dict[Name, Counter[str]] = {}
        for (name, kind), n in near.items():
            kinds.setdefault(name, Counter())[kind] += n
        vote = Gazetteer({name: c.most_common(1)[0][0] for name, c in kinds.items()
                          if sum(c.values()) >= min_share * occurs[name]})
        out.append(merge(list(tagging), vote.tag(words)))
    return out


def finish(tokens: list[list[str]], tags: list[list[str]], names: Gazetteer | None,
           window: int, min_share: float, abbreviate: bool) -> list[list[str]]:
    """The tagger's tags, plus the dictionary's matches where it left O (`names`, None: off),
    then label consistency over `window` sentences either side (see propagate). Tokens may be
    a frame's arrays: they become lists of str once, here."""
    tokens = [list(map(str, w)) for w in tokens]
    if names is not None:
        tags = [merge(list(t), names.tag(w)) for w, t in zip(tokens, tags, strict=True)]
    return propagate(tokens, tags, window, min_share, abbreviate)
