"""Built-in Italian -> English sentence pairs from a small, seeded grammar (translate's
`data.source: builtin`).

What makes the pairs sequence-to-sequence (one output per input step would not do):

- the adjective follows the noun in Italian and precedes it in English
  ("il gatto nero" -> "the black cat"; "l'ombrello vecchio" -> "the old umbrella");
- gendered articles and agreement: il / lo / l' / la / i / gli / le, un / uno / una / un',
  adjectives in -o / -a / -i / -e ("le mele rosse" -> "the red apples"), and English a / an
  chosen by the *next English word*, which is the adjective ("un albero" -> "a tree",
  "un albero vecchio" -> "an old tree");
- dropped subject pronouns, resolved by context words: the person ending of the verb
  ("mangiamo" -> "we eat"), or for he / she the gender of a predicate adjective or of the
  subject of the previous clause ("è stanca e mangia il pesce" -> "she is tired and she eats
  the fish"; "lo studente ... e poi legge" -> "... and then he reads", "la studentessa ... e
  poi legge" -> "... and then she reads": English "student" has no gender);
- possessives that move ("il libro nuovo della ragazza" -> "the girl's new book"), the
  contracted prepositions del / dello / dell' / della, and negation with do-support
  ("non mangia" -> "does not eat"), so the two sides differ in length and order.

Held-out combinations: every (noun, adjective) and (verb, object) pair is assigned by the seed
to train, dev or test. Training sentences use training pairs only; every dev (test) sentence
contains at least one dev (test) pair and no pair of the other held-out split. So test measures
translating word combinations never seen in training, made of words that were.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rnnlab.tasks.translate.data import detokenize


@dataclass(frozen=True)
class Noun:
    it: str
    it_pl: str
    gender: str  # m | f
    en: str
    en_pl: str
    onset: str = "c"  # Italian article class: c (consonant), v (vowel), s (s+consonant, z, ...)
    human: bool = False


HUMANS = [
    Noun("ragazzo", "ragazzi", "m", "boy", "boys", human=True),
    Noun("ragazza", "ragazze", "f", "girl", "girls", human=True),
    Noun("uomo", "uomini", "m", "man", "men", "v", human=True),
    Noun("donna", "donne", "f", "woman", "women", human=True),
    Noun("studente", "studenti", "m", "student", "students", "s", human=True),
    Noun("studentessa", "studentesse", "f", "student", "students", "s", human=True),
    Noun("amico", "amici", "m", "friend", "friends", "v", human=True),
    Noun("amica", "amiche", "f", "friend", "friends", "v", human=True),
    Noun("zio", "zii", "m", "uncle", "uncles", "s", human=True),
    Noun("zia", "zie", "f", "aunt", "aunts", "s", human=True),
    Noun("bambino", "bambini", "m", "child", "children", human=True),
    Noun("maestra", "maestre", "f", "teacher", "teachers", human=True),
]
ANIMALS = [
    Noun("gatto", "gatti", "m", "cat", "cats"),
    Noun("cane", "cani", "m", "dog", "dogs"),
    Noun("cavallo", "cavalli", "m", "horse", "horses"),
    Noun("uccello", "uccelli", "m", "bird", "birds", "v"),
    Noun("mucca", "mucche", "f", "cow", "cows"),
    Noun("pecora", "pecore", "f", "sheep", "sheep"),
]
FOOD = [
    Noun("mela", "mele", "f", "apple", "apples"),
    Noun("arancia", "arance", "f", "orange", "oranges", "v"),
    Noun("pesce", "pesci", "m", "fish", "fish"),
    Noun("torta", "torte", "f", "cake", "cakes"),
    Noun("panino", "panini", "m", "sandwich", "sandwiches"),
]
THINGS = [
    Noun("libro", "libri", "m", "book", "books"),
    Noun("lettera", "lettere", "f", "letter", "letters"),
    Noun("giornale", "giornali", "m", "newspaper", "newspapers"),
    Noun("casa", "case", "f", "house", "houses"),
    Noun("macchina", "macchine", "f", "car", "cars"),
    Noun("finestra", "finestre", "f", "window", "windows"),
    Noun("porta", "porte", "f", "door", "doors"),
    Noun("albero", "alberi", "m", "tree", "trees", "v"),
    Noun("ombrello", "ombrelli", "m", "umbrella", "umbrellas", "v"),
    Noun("zaino", "zaini", "m", "backpack", "backpacks", "s"),
    Noun("specchio", "specchi", "m", "mirror", "mirrors", "s"),
    Noun("bicicletta", "biciclette", "f", "bicycle", "bicycles"),
]
NAMES = {"Marco": "m", "Luca": "m", "Paolo": "m", "Maria": "f", "Anna": "f", "Giulia": "f"}

# adjective: (m sg, f sg, m pl, f pl, English)
ADJECTIVES = [
    ("nero", "nera", "neri", "nere", "black"),
    ("bianco", "bianca", "bianchi", "bianche", "white"),
    ("rosso", "rossa", "rossi", "rosse", "red"),
    ("giallo", "gialla", "gialli", "gialle", "yellow"),
    ("verde", "verde", "verdi", "verdi", "green"),
    ("grande", "grande", "grandi", "grandi", "big"),
    ("piccolo", "piccola", "piccoli", "piccole", "small"),
    ("vecchio", "vecchia", "vecchi", "vecchie", "old"),
    ("nuovo", "nuova", "nuovi", "nuove", "new"),
    ("sporco", "sporca", "sporchi", "sporche", "dirty"),
    ("pulito", "pulita", "puliti", "pulite", "clean"),
    ("caro", "cara", "cari", "care", "expensive"),
]
# predicate adjectives for people; the first four show gender, the last two do not
PREDICATES = [
    ("stanco", "stanca", "stanchi", "stanche", "tired"),
    ("arrabbiato", "arrabbiata", "arrabbiati", "arrabbiate", "angry"),
    ("affamato", "affamata", "affamati", "affamate", "hungry"),
    ("contento", "contenta", "contenti", "contente", "glad"),
    ("felice", "felice", "felici", "felici", "happy"),
    ("triste", "triste", "tristi", "tristi", "sad"),
]
GENDERED_PREDICATES = PREDICATES[:4]

# verb: Italian present (io, tu, lui/lei, noi, voi, loro), English base, English 3sg, objects
VERBS = [
    (("mangio", "mangi", "mangia", "mangiamo", "mangiate", "mangiano"), "eat", "eats", "food"),
    (("compro", "compri", "compra", "compriamo", "comprate", "comprano"), "buy", "buys", "all"),
    (("guardo", "guardi", "guarda", "guardiamo", "guardate", "guardano"), "watch", "watches",
     "all"),
    (("porto", "porti", "porta", "portiamo", "portate", "portano"), "bring", "brings", "all"),
    (("lavo", "lavi", "lava", "laviamo", "lavate", "lavano"), "wash", "washes", "all"),
    (("vedo", "vedi", "vede", "vediamo", "vedete", "vedono"), "see", "sees", "all"),
    (("prendo", "prendi", "prende", "prendiamo", "prendete", "prendono"), "take", "takes",
     "all"),
    (("leggo", "leggi", "legge", "leggiamo", "leggete", "leggono"), "read", "reads", "text"),
    (("scrivo", "scrivi", "scrive", "scriviamo", "scrivete", "scrivono"), "write", "writes",
     "text"),
    (("apro", "apri", "apre", "apriamo", "aprite", "aprono"), "open", "opens", "open"),
    (("cerco", "cerchi", "cerca", "cerchiamo", "cercate", "cercano"), "look for", "looks for",
     "all"),
]
OBJECTS = {
    "food": FOOD,
    "all": FOOD + THINGS + ANIMALS,
    "text": [n for n in THINGS if n.en in ("book", "letter", "newspaper")],
    "open": [n for n in THINGS if n.en in ("book", "letter", "window", "door", "umbrella",
                                           "backpack")] + FOOD[-1:],
}
PERSONS = [("I", "base"), ("you", "base"), (None, "3sg"), ("we", "base"), ("you", "base"),
           ("they", "base")]
EN_VOWEL = ("a", "e", "i", "o", "u")


def _article(noun: Noun, plural: bool, definite: bool) -> list[str]:
    if not definite:
        if noun.gender == "f":
            return ["un'"] if noun.onset == "v" else ["una"]
        return ["uno"] if noun.onset == "s" else ["un"]
    if plural:
        return ["le"] if noun.gender == "f" else (["gli"] if noun.onset in "vs" else ["i"])
    if noun.onset == "v":
        return ["l'"]
    if noun.gender == "f":
        return ["la"]
    return ["lo"] if noun.onset == "s" else ["il"]


def _di(noun: Noun) -> str:
    """di + definite singular article: del, dello, dell', della."""
    art = _article(noun, False, True)[0]
    return {"il": "del", "lo": "dello", "l'": "dell'", "la": "della"}[art]


def _agree(adj: tuple, gender: str, plural: bool) -> str:
    return adj[(2 if plural else 0) + (gender == "f")]


@dataclass
class Phrase:
    it: list[str]
    en: list[str]
    combos: list[tuple]  # (noun, adjective) / (verb, object) pairs used
    gender: str = "m"
    plural: bool = False


def _np(rng: random.Random, noun: Noun, *, plural: bool = False, adj: bool | None = None,
        definite: bool | None = None, possessor: bool = False) -> Phrase:
    """A noun phrase: article + noun + (adjective) [+ di + possessor] and its English."""
    definite = rng.random() < 0.7 if definite is None else definite
    if plural:
        definite = True
    use_adj = rng.random() < 0.6 if adj is None else adj
    a = rng.choice(ADJECTIVES) if use_adj else None
    it = [*_article(noun, plural, definite), noun.it_pl if plural else noun.it]
    head = [a[4]] if a else []
    head.append(noun.en_pl if plural else noun.en)
    combos = [("adj", noun.it, a[0])] if a else []
    if a:
        it.append(_agree(a, noun.gender, plural))
    if possessor and definite:
        if rng.random() < 0.4:
            name = rng.choice(sorted(NAMES))
            it += ["di", name]
            en = [name, "'s", *head]
        else:
            owner = rng.choice(HUMANS)
            it += [_di(owner), owner.it]
            en = ["the", owner.en, "'s", *head]
    elif definite:
        en = ["the", *head]
    else:
        en = ["an" if head[0].startswith(EN_VOWEL) else "a", *head]
    return Phrase(it, en, combos, noun.gender, plural)


def _subject(rng: random.Random, human: bool = False) -> Phrase:
    if rng.random() < 0.25:
        name = rng.choice(sorted(NAMES))
        return Phrase([name], [name], [], NAMES[name], False)
    noun = rng.choice(HUMANS if human or rng.random() < 0.5 else ANIMALS)
    return _np(rng, noun, plural=rng.random() < 0.3)


def _verb_object(rng: random.Random, person: int, negate: bool) -> tuple[Phrase, str]:
    """Verb (+ negation) and object: Italian and English, for a person 0..5. Returns the
    phrase and the English pronoun slot (filled by the caller for person 2)."""
    forms, base, third, kind = rng.choice(VERBS)
    obj = rng.choice(OBJECTS[kind])
    np_ = _np(rng, obj, plural=rng.random() < 0.25, possessor=rng.random() < 0.2)
    it = (["non"] if negate else []) + [forms[person]] + np_.it
    third_person = person == 2
    if negate:
        en = ["does" if third_person else "do", "not", *base.split()]
    else:
        en = (third if third_person else base).split()
    combos = [("verb", forms[0], obj.it), *np_.combos]
    return Phrase(it, en + np_.en, combos), ""


def _pronoun(gender: str, plural: bool) -> str:
    return "they" if plural else ("she" if gender == "f" else "he")


def _be(plural: bool) -> tuple[str, str]:
    return ("sono", "are") if plural else ("è", "is")


def sentence(rng: random.Random) -> tuple[list[str], list[str], list[tuple]]:
    """One Italian/English token pair from the grammar, with the combinations it uses."""
    kind = rng.random()
    negate = rng.random() < 0.2
    if kind < 0.35:  # SUBJECT VERB OBJECT
        subj = _subject(rng)
        person = 5 if subj.plural else 2
        vo, _ = _verb_object(rng, person, negate)
        if subj.plural:  # English plural subject: base form, do-support "do not"
            vo.en = [w if w != "does" else "do" for w in vo.en]
            vo.en = _plural_verb(vo.en)
        it, en, combos = subj.it + vo.it, subj.en + vo.en, subj.combos + vo.combos
    elif kind < 0.55:  # dropped pronoun, the verb ending says who: io, tu, noi, voi, loro
        person = rng.choice([0, 1, 3, 4, 5])
        vo, _ = _verb_object(rng, person, negate)
        it, en, combos = vo.it, [PERSONS[person][0], *vo.en], vo.combos
    elif kind < 0.7:  # "è stanca e mangia ...": the predicate's gender says he / she
        gender, plural = rng.choice("mf"), rng.random() < 0.2
        pred = rng.choice(GENDERED_PREDICATES)
        person = 5 if plural else 2
        vo, _ = _verb_object(rng, person, negate)
        pron = _pronoun(gender, plural)
        be_it, be_en = _be(plural)
        sep_it, sep_en = (["e"], ["and"]) if rng.random() < 0.5 else (["."], ["."])
        it = [be_it, _agree(pred, gender, plural), *sep_it, *vo.it]
        en = [pron, be_en, pred[4], *sep_en, pron, *(_plural_verb(vo.en) if plural else vo.en)]
        combos = vo.combos
    elif kind < 0.85:  # "la studentessa è felice e legge ...": the subject says he / she
        subj = _subject(rng, human=True)
        pred = rng.choice(PREDICATES)
        person = 5 if subj.plural else 2
        vo, _ = _verb_object(rng, person, negate)
        be_it, be_en = _be(subj.plural)
        pron = _pronoun(subj.gender, subj.plural)
        it = [*subj.it, be_it, _agree(pred, subj.gender, subj.plural), "e", *vo.it]
        verb = _plural_verb(vo.en) if subj.plural else vo.en
        en = [*subj.en, be_en, pred[4], "and", pron, *verb]
        combos = subj.combos + vo.combos
    else:  # "il ragazzo compra la torta e poi la mangia"-like: two clauses, one subject
        subj = _subject(rng, human=True)
        person = 5 if subj.plural else 2
        first, _ = _verb_object(rng, person, False)
        second, _ = _verb_object(rng, person, negate)
        pron = _pronoun(subj.gender, subj.plural)
        fix = _plural_verb if subj.plural else (lambda w: w)
        it = subj.it + first.it + ["e", "poi"] + second.it
        en = subj.en + fix(first.en) + ["and", "then", pron] + fix(second.en)
        combos = subj.combos + first.combos + second.combos
    return [*it, "."] if it[-1] != "." else it, [*en, "."], combos


def _plural_verb(en: list[str]) -> list[str]:
    """English verb words of a 3sg phrase -> plural ("eats" -> "eat", "does not" -> "do not")."""
    singular = {third.split()[0]: base.split()[0] for _, base, third, _ in VERBS}
    singular["does"] = "do"
    out, done = [], False
    for w in en:
        if not done and w in singular:
            out.append(singular[w])
            done = True
        else:
            out.append(w)
    return out


def _all_combos() -> list[tuple]:
    nouns = {n.it: n for n in HUMANS + ANIMALS + FOOD + THINGS}
    combos = [("adj", n, a[0]) for n in sorted(nouns) for a in ADJECTIVES]
    combos += [("verb", forms[0], o.it) for forms, _, _, kind in VERBS for o in OBJECTS[kind]]
    return sorted(set(combos))


def assign_combos(seed: int, dev: float = 0.12, test: float = 0.12) -> dict[tuple, str]:
    combos = _all_combos()
    rng = random.Random(seed * 7919 + 11)
    rng.shuffle(combos)
    n_test, n_dev = round(len(combos) * test), round(len(combos) * dev)
    return {c: ("test" if i < n_test else "dev" if i < n_test + n_dev else "train")
            for i, c in enumerate(combos)}


def generate(n_train: int, n_dev: int, n_test: int, seed: int = 0,
             max_tries: int = 200) -> dict[str, list[tuple[str, str]]]:
    """{split: [(Italian, English), ...]}, detokenised text. Seeded; no sentence twice."""
    owner = assign_combos(seed)
    rng = random.Random(seed)
    wanted = {"train": n_train, "dev": n_dev, "test": n_test}
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in wanted}
    seen: set[str] = set()
    budget = max_tries * max(1, sum(wanted.values()))
    while any(len(out[s]) < n for s, n in wanted.items()):
        budget -= 1
        if budget < 0:
            raise RuntimeError(f"the grammar cannot produce {wanted} distinct pairs")
        it, en, combos = sentence(rng)
        splits = {owner[c] for c in combos}
        split = ("train" if splits == {"train"} else
                 "test" if "test" in splits and "dev" not in splits else
                 "dev" if "dev" in splits and "test" not in splits else None)
        text = " ".join(it)
        if split is None or len(out[split]) >= wanted[split] or text in seen:
            continue
        seen.add(text)
        out[split].append((detokenize(it, "it"), detokenize(en, "en")))
    return out
