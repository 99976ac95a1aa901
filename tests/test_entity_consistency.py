"""Label consistency across neighbouring sentences (rnnlab.tasks.entity.consistency)."""

from __future__ import annotations

from rnnlab.tasks.entity.consistency import abbreviations, finish, propagate
from rnnlab.tasks.entity.data import Gazetteer

S = ["B-Species", "I-Species"]


def sents(*texts: str) -> list[list[str]]:
    return [t.split() for t in texts]


def test_a_name_tagged_once_is_tagged_where_it_recurs_within_the_window():
    tokens = sents("we caught Lutzomyia whitmani here",
                   "more Lutzomyia whitmani were caught",
                   "nothing",
                   "and Lutzomyia whitmani again")
    tags = [["O", "O", *S, "O"], ["O"] * 5, ["O"], ["O"] * 4]
    out = propagate(tokens, tags, window=1)
    assert out[0] == tags[0]  # the tagger's own entities stay
    assert out[1] == ["O", *S, "O", "O"]
    assert out[3] == ["O"] * 4  # two sentences away: outside a window of 1
    assert propagate(tokens, tags, window=3)[3] == ["O", *S, "O"]
    assert propagate(tokens, tags, window=0) == tags


def test_the_abbreviated_binomial_is_found_in_both_tokenisations():
    assert abbreviations(("Lutzomyia", "whitmani")) == [("L", ".", "whitmani"),
                                                        ("L.", "whitmani")]
    assert abbreviations(("human",)) == [] and abbreviations(("mice", "rats")) == []
    tokens = sents("Ascaris suum eggs", "L . x and A . suum larvae", "A. suum")
    tags = [[*S, "O"], ["O"] * 8, ["O"] * 2]
    out = propagate(tokens, tags, window=2)
    assert out[1] == ["O"] * 4 + ["B-Species", "I-Species", "I-Species", "O"]
    assert out[2] == S
    assert propagate(tokens, tags, window=2, abbreviate=False)[1] == ["O"] * 8


def test_it_only_adds_where_the_tagger_said_O_and_keeps_adjacent_names_apart():
    tokens = sents("Panthera leo and Panthera", "Panthera leo Panthera leo")
    tags = [[*S, "O", "B-Genus"], ["B-Genus", "O", "O", "O"]]
    out = propagate(tokens, tags, window=1)
    assert out[0] == tags[0]
    # the tagger's "Panthera" (Genus) stays; the free "Panthera leo" becomes its own entity
    assert out[1] == ["B-Genus", "O", *S]
    both_free = propagate(sents("Panthera leo", "Panthera leo Panthera leo"),
                          [S, ["O"] * 4], window=1)
    assert both_free[1] == [*S, *S]  # two adjacent matches, two entities (B- opens each)


def test_the_type_is_the_one_the_neighbourhood_gave_most_often():
    tokens = sents("E. coli", "E. coli", "E. coli", "the E. coli")
    tags = [["B-Bacterium", "I-Bacterium"]] * 2 + [["B-Species", "I-Species"], ["O"] * 3]
    assert propagate(tokens, tags, window=3)[3] == ["O", "B-Bacterium", "I-Bacterium"]


def test_a_vote_keeps_one_mistake_from_spreading():
    tokens = sents("the bat flew", "a bat", "one bat", "Myotis bat")
    tags = [["O", "B-Species", "O"], ["O", "O"], ["O", "O"], ["B-Species", "O"]]
    # "bat" is tagged at one of its four occurrences: below a share of 0.34, not spread
    assert propagate(tokens, tags, window=3, min_share=0.34) == tags
    assert propagate(tokens, tags, window=3, min_share=0.25)[1] == ["O", "B-Species"]


def test_finish_adds_the_dictionary_before_consistency():
    names = Gazetteer({("Homo", "sapiens"): "Species"})
    tokens = sents("Homo sapiens and Mus musculus", "Mus musculus")
    tags = [["O", "O", "O", "B-Species", "I-Species"], ["O", "O"]]
    out = finish(tokens, tags, names, window=1, min_share=0.0, abbreviate=True)
    assert out == [[*S, "O", *S], S]
    assert finish(tokens, tags, None, window=0, min_share=0.0, abbreviate=True) == tags
