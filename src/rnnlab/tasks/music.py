"""A genre id -> a melody: the lecture's one-to-many architecture (Tx = 1, Ty = length of the
tune). "Input the musical genre (one integer) to generate a song (sequence of notes)."

Data: real tunes that ship with music21 (no download). By default Ryan's Mammoth Collection
(1,059 single-tune ABC files whose names end in their dance type: Reel, Jig, Hornpipe,
Strathspey, ...), the four largest genres; or any other music21 corpus collection by name, or a
folder of the user's MIDI / MusicXML / ABC files with the genre taken from the sub-folder name.
music21 parses every file once, in prepare (with a progress bar); the prepared parquet frames
keep the tokens, metre, key and title, so DVC caches the slow part.

Tokens (rnnlab/data/music.py): `<pitch>_<duration>` notes, `R_<duration>` rests, `|` bar lines
(`data.bar_tokens`, so the metre of generated tunes can be measured) and an end-of-tune token
`<eot>`; untransposed by default (`data.transpose: true` moves every key signature to C / Am).

Model (rnnlab.nn.architectures.OneToMany): the genre embedding sets a<0> (`model.condition:
state`), is x<1> (`input`), or sets a<0> and is appended to every x<t> (`every`, the default).
Why: with a<0> alone the genre has to survive a hundred or more cell updates, and on dev the
generated tunes drifted to the commonest genre (generated hornpipes classified as hornpipes 25%
of the time, strathspeys 38%); with the genre in every input it cannot be forgotten (40% and
62% on the same run, 60-72% and 68-75% once trained with lr 0.006). x<1> alone is weaker still:
the genre enters the state only after one update, like a<0>, but through the input weights.
The cell also reads a clock (`model.clock`): the time since the last bar line, computed from
the notes it has read or generated, which is how it learns where a bar ends (bars of generated
tunes in their genre's metre on dev: 15-33% without it, 52-85% with it). Teacher forcing in
training; `sample` draws with a temperature and a top-k, and stops at <eot> or
`model.max_len`.

Evaluation next to baselines on the same split: per-token NLL / perplexity of held-out tunes vs a
per-genre add-k bigram fitted on the same training tunes (k chosen on dev); conditioning (a fixed
TF-IDF n-gram + logistic regression genre classifier trained on real training tunes labels K
generated tunes per genre, next to its accuracy on real test tunes); the share of bars whose
length fits the genre's metre, generated vs real; pitch-class histogram distance per genre.
Generated tunes are written as MIDI files with a piano roll per genre.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnnlab.config import ModelConfig, TaskConfig, TrainConfig, VocabConfig
from rnnlab.data import music
from rnnlab.encoding import pad
from rnnlab.lightning import SequenceModelModule, sequence_nll
from rnnlab.nn.architectures import OneToMany, count_parameters
from rnnlab.tasks import SPLITS
from rnnlab.vocab import Vocabulary, oov_rates

EOT = "<eot>"
SOURCES = ("corpus", "folder")
REQUIREMENTS = ("music21",)
MONITOR, MONITOR_MODE = "dev/nll", "min"
PRIMARY_MODE = "min"  # primary_metric dev/nll: the champion is the lowest
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class MusicVocabConfig(VocabConfig):
    max_size: int = 2000
    min_freq: int = 2          # rarer training tokens become <unk>, so the models learn <unk>
    unk_signatures: bool = False


@dataclass(frozen=True)
class MusicModelConfig(ModelConfig):
    bidirectional: bool = False  # a generator reads left to right only
    genre_dim: int = 16
    condition: Literal["state", "input", "every"] = "state"  # genre -> a<0> | x<1> | both+
    clock: bool = True           # also input the time since the last bar line (needs bars)
    clock_dim: int = 16
    temperature: float = 1.0     # sampling: softmax(logits / temperature) ...
    top_k: int = 0               # ... over the k most likely tokens (0 = all)
    max_len: int = 600           # tokens per generated tune at most (the longest real: ~500)
    samples_per_genre: int = 40  # K generated tunes per genre in evaluate
    midi_per_genre: int = 4      # of which this many are written as MIDI files


@dataclass(frozen=True)
class MusicTrainConfig(TrainConfig):
    word_dropout: float = 0.0


VOCAB_CONFIG, MODEL_CONFIG, TRAIN_CONFIG = MusicVocabConfig, MusicModelConfig, MusicTrainConfig


# ---------------------------------------------------------------- data


def _normal_title(title: str) -> str:
    """Group key of a title: versions of one tune ('Old Zip Coon -- Reel' in G and in A) share
    it, so they land in the same split."""
    title = re.split(r"\s+--\s+", str(title))[0]
    return re.sub(r"[^a-z0-9]", "", title.lower())


def list_files(cfg: TaskConfig) -> list[tuple[Path, str | None]]:
    data = cfg.data
    source = data.get("source", "corpus")
    if source == "corpus":
        return music.corpus_files(data.get("collection", "ryansMammoth"),
                                  data.get("genre_from", "filename"))
    if source == "folder":
        return music.folder_files(data.get("path", "data/raw/music/tunes"))
    raise ValueError(f"music.data.source must be one of {SOURCES}, got {source!r}")


def select_genres(files: list[tuple[Path, str | None]], cfg: TaskConfig) -> list[str]:
    """`data.genres` as given, or the `data.max_genres` largest (by file count) with at least
    `data.min_files` files, largest first (ties by name)."""
    given = cfg.data.get("genres")
    if given:
        return [str(g) for g in given]
    counts = Counter(g for _, g in files if g)
    ranked = sorted(counts, key=lambda g: (-counts[g], g))
    keep = [g for g in ranked if counts[g] >= int(cfg.data.get("min_files", 1))]
    return keep[: int(cfg.data.get("max_genres", 4))]


def tune_groups(titles: list[str], tokens: list[list[str]]) -> list[str]:
    """One group per tune and its versions: tunes that share a normalised title or have
    identical tokens (the collection repeats a few tunes under two names) are one group,
    named after its first title."""
    parent = list(range(len(titles)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, key in enumerate(f"t:{_normal_title(t)}" for t in titles):
        parent[root(i)] = root(first.setdefault(key, i))
    for i, key in enumerate("c:" + " ".join(t) for t in tokens):
        parent[root(i)] = root(first.setdefault(key, i))
    return [_normal_title(titles[root(i)]) or f"tune{root(i)}" for i in range(len(titles))]


def split_tunes(frame: pd.DataFrame, seed: int, dev: float, test: float) -> pd.Series:
    """Seeded split of whole groups (a tune and its versions never straddle two splits),
    stratified by genre: a share `dev` / `test` of each genre's groups (by the group's most
    common genre) go to dev / test."""
    rng = np.random.default_rng(seed)
    genre_of = (frame.assign(genre=frame["genre"].fillna("")).groupby("group")["genre"]
                .agg(lambda g: sorted(g.value_counts().index, key=lambda x: (-(g == x).sum(),
                                                                               x))[0]))
    split = pd.Series("train", index=frame.index, dtype=object)
    for genre in sorted(genre_of.unique()):
        order = sorted(genre_of.index[genre_of == genre])
        order = [order[i] for i in rng.permutation(len(order))]
        n_dev, n_test = round(dev * len(order)), round(test * len(order))
        for name, part in (("dev", order[:n_dev]), ("test", order[n_dev:n_dev + n_test])):
            split[frame["group"].isin(part)] = name
    return split


def prepare(cfg: TaskConfig, seed: int) -> dict[str, pd.DataFrame]:
    """Parse the selected genres' files once; splits plus a `failures` frame (files music21
    could not read: reported by name, skipped, and counted by validate)."""
    data = cfg.data
    files = list_files(cfg)
    genres = select_genres(files, cfg)
    if not genres:
        raise ValueError("music: no genre found (data.genres, data.min_files)")
    # unknown genres stay in (validate names them) when reading a user's folder
    chosen = [(p, g) for p, g in files if g in genres or (g is None and
                                                          data.get("source") == "folder")]
    limit = int(data.get("limit", 0) or 0)
    if limit:  # at most `limit` files per genre (quick runs, tests)
        seen: Counter[str | None] = Counter()
        kept = []
        for p, g in chosen:
            seen[g] += 1
            if seen[g] <= limit:
                kept.append((p, g))
        chosen = kept
    tunes, failures = music.parse_files(chosen, transpose=bool(data.get("transpose", False)),
                                        bar_tokens=bool(data.get("bar_tokens", True)),
                                        workers=int(data.get("workers", 1)))
    for f in failures:
        print(f"prepare[music]: skipped {f['file']} ({f['genre']}): {f['error']}")
    frame = pd.DataFrame(tunes)
    if frame.empty:
        raise ValueError(f"music: none of {len(chosen)} files could be parsed")
    frame["genre_id"] = [genres.index(g) if g in genres else -1 for g in frame["genre"]]
    frame["group"] = tune_groups(list(frame["title"]), [list(t) for t in frame["tokens"]])
    share = data.get("split", {})
    frame["split"] = split_tunes(frame, int(data.get("split_seed", seed)),
                                 float(share.get("dev", 0.1)), float(share.get("test", 0.1)))
    cols = ["tune_id", "file", "title", "group", "genre", "genre_id", "metre", "metres", "key",
            "transposed_by", "tokens", "n_notes", "n_bars", "grace_notes"]
    out = {}
    for s in SPLITS:
        part = frame[frame["split"] == s].reset_index(drop=True)
        part.insert(0, "tune_id", range(len(part)))
        out[s] = part[cols]
    out["failures"] = pd.DataFrame(failures, columns=["file", "genre", "error"])
    out["files"] = pd.DataFrame({"file": [Path(p).name for p, _ in chosen],
                                 "genre": [g for _, g in chosen]})
    return out


def _side_frame(cfg: TaskConfig, frames: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """failures / files: in `frames` (tests) or next to the prepared splits (the stage)."""
    if name in frames:
        return frames[name]
    from rnnlab.stages import Paths

    path = Paths(cfg.name).prepared / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=["file", "genre"])


def token_stats(tokens: list[str]) -> dict[str, Any]:
    """What validate checks on one tune's token list: pitch range, durations, malformed
    tokens."""
    pitches, durations, bad = [], [], []
    for tok in tokens:
        if tok == music.BAR:
            continue
        try:
            parsed = music.parse_token(tok)
        except (ValueError, ZeroDivisionError):
            parsed = None
        if parsed is None:
            bad.append(tok)
            continue
        midi, ql = parsed
        durations.append(ql)
        if midi is not None:
            pitches.append(midi)
    return {"min_pitch": min(pitches) if pitches else 0,
            "max_pitch": max(pitches) if pitches else 0,
            "min_duration": min(durations) if durations else 0.0,
            "n_notes": len(pitches), "bad_tokens": len(bad),
            "first_bad_token": bad[0] if bad else ""}


def checks(cfg: TaskConfig, frames: dict[str, pd.DataFrame]) -> list:
    """Tune-level, genre-level and file-level Great Expectations suites."""
    import great_expectations.expectations as gxe

    from rnnlab.validation import Check

    v = cfg.validation
    min_notes = int(v.get("min_notes", 16))
    max_failed = float(v.get("max_failed_fraction", 0.02))
    min_train = int(v.get("min_train_per_genre", 10))
    splits = {s: frames[s] for s in SPLITS if s in frames}
    tunes = pd.concat([f.assign(split=s) for s, f in splits.items()], ignore_index=True)
    for col in ("genre", "title", "file", "tokens", "group"):
        if col not in tunes:
            tunes[col] = None
    stats = pd.DataFrame([token_stats(list(t) if t is not None else []) for t in tunes["tokens"]])
    tunes = pd.concat([tunes.drop(columns=[c for c in stats if c in tunes]), stats], axis=1)
    content = tunes["tokens"].map(lambda t: " ".join(t) if t is not None else "")
    tunes["in_two_splits"] = tunes.groupby(content)["split"].transform("nunique") > 1
    tunes["group_in_two_splits"] = tunes.groupby("group")["split"].transform("nunique") > 1
    genres = [str(g) for g in cfg.data.get("genres") or
              sorted(frames["train"]["genre"].dropna().unique())] if "train" in frames else []
    ids = ["split", "tune_id"]
    tune_suite = [
        gxe.ExpectColumnToExist(column="tokens", description="schema: a 'tokens' column"),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split", value_set=list(SPLITS), description="train, dev and test are present"),
        gxe.ExpectColumnValuesToNotBeNull(column="genre", description="every tune has a genre"),
        gxe.ExpectColumnValuesToBeInSet(column="genre", value_set=genres,
                                        description=f"genres only from {genres}"),
        gxe.ExpectColumnValuesToBeBetween(
            column="n_notes", min_value=min_notes,
            description=f"every tune has at least {min_notes} notes"),
        gxe.ExpectColumnValuesToBeBetween(
            column="min_duration", min_value=0, strict_min=True,
            description="every duration is positive"),
        gxe.ExpectColumnValuesToBeBetween(
            column="min_pitch", min_value=0, description="pitches within MIDI 0-127 (low)"),
        gxe.ExpectColumnValuesToBeBetween(
            column="max_pitch", max_value=127, description="pitches within MIDI 0-127 (high)"),
        gxe.ExpectColumnValuesToBeBetween(
            column="bad_tokens", max_value=0,
            description="every token is a note, a rest or a bar line"),
        gxe.ExpectColumnValuesToBeInSet(
            column="in_two_splits", value_set=[False],
            description="no tune is in two splits (identical tokens)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="group_in_two_splits", value_set=[False],
            description="no title is in two splits (versions of one tune)"),
    ]
    train = splits.get("train", pd.DataFrame({"genre": []}))
    counts = pd.DataFrame({"genre": genres, "train": [int((train["genre"] == g).sum())
                                                      for g in genres]})
    genre_suite = [gxe.ExpectColumnValuesToBeBetween(
        column="train", min_value=min_train,
        description=f"each genre has at least {min_train} training tunes")]
    files = _side_frame(cfg, frames, "files").copy()
    failed = set(_side_frame(cfg, frames, "failures")["file"])
    files["parsed"] = [f not in failed for f in files["file"]]
    file_suite = [gxe.ExpectColumnValuesToBeInSet(
        column="parsed", value_set=[True], mostly=1 - max_failed,
        description=f"music21 parses all but at most {max_failed:.0%} of the files")]
    stats_out = {s: {"tunes": int((tunes["split"] == s).sum()),
                     "genres": {g: int(((tunes["split"] == s) & (tunes["genre"] == g)).sum())
                                for g in genres}} for s in splits}
    stats_out["files"] = {"selected": len(files), "failed": sorted(failed)}
    return [Check("tunes", tunes, tune_suite, ids, "title", stats=stats_out),
            Check("genres", counts, genre_suite, ["genre"]),
            Check("files", files, file_suite, ["file"])]


# ---------------------------------------------------------------- representation


@dataclass
class Genres:
    """The genre list (id order) and, per genre, the training tunes' time signatures and the
    bar lengths that count as "in the genre's metre" (those of >= 5% of its tunes)."""

    names: list[str]
    metres: dict[str, dict[str, float]] = field(default_factory=dict)  # genre -> {ts: share}

    def __len__(self) -> int:
        return len(self.names)

    def bar_lengths(self, genre: str, min_share: float = 0.05) -> list[float]:
        out = {music.bar_length(m) for m, s in self.metres.get(genre, {}).items()
               if s >= min_share}
        return sorted(x for x in out if x)

    def main_metre(self, genre: str) -> str:
        shares = self.metres.get(genre) or {"4/4": 1.0}
        return max(shares, key=lambda m: (shares[m], m))

    def save(self, path: str | Path) -> None:
        from rnnlab.io import write_json

        write_json(path, {"names": self.names, "metres": self.metres})

    @classmethod
    def load(cls, path: str | Path) -> Genres:
        data = json.loads(Path(path).read_text())
        return cls(list(data["names"]), dict(data.get("metres", {})))


def load_vocab(path: str | Path) -> Any:
    return Genres.load(path) if Path(path).stem == "genres" else Vocabulary.load(path)


def build_vocabs(train: pd.DataFrame, vocab_cfg: Any) -> dict[str, Any]:
    tokens = Vocabulary.build(([*list(t), EOT] for t in train["tokens"]), vocab_cfg.max_size,
                              vocab_cfg.min_freq, False, vocab_cfg.unk_signatures)
    order = train.drop_duplicates("genre_id").sort_values("genre_id")
    names = [str(g) for g in order["genre"]]
    metres = {g: {str(m): round(float(s), 4) for m, s in
                  train.loc[train["genre"] == g, "metre"].value_counts(normalize=True).items()}
              for g in names}
    return {"tokens": tokens, "genres": Genres(names, metres)}


def vocab_metrics(frames: dict[str, pd.DataFrame], vocabs: dict[str, Any]) -> dict[str, float]:
    return oov_rates(vocabs["tokens"], frames)


def encode(frame: pd.DataFrame, vocabs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Teacher forcing pairs: targets y<1..T> = tokens + <eot>, inputs x<1..T> = [0, y<1..T-1>]
    (id 0 = the zero vector x<1>), lengths, mask, and the genre id per tune: genres [N]."""
    vocab = vocabs["tokens"]
    targets = [vocab.encode([*list(t), EOT]) for t in frame["tokens"]]
    out = pad([[0, *y[:-1]] for y in targets])
    out["targets"] = pad(targets)["ids"]
    out["genres"] = torch.tensor(frame["genre_id"].to_numpy(dtype=np.int64))
    return out


# ---------------------------------------------------------------- model

SERVING_KEYS = ("genres", "temperature", "top_k", "max_len")


def net_config(cfg: TaskConfig, vocabs: dict[str, Any]) -> dict[str, Any]:
    m = cfg.model
    if m.bidirectional:
        raise ValueError("music.model.bidirectional must be false: a generator cannot read "
                         "notes it has not generated yet")
    return {"vocab_size": len(vocabs["tokens"]), "n_genres": len(vocabs["genres"]),
            "encoding": cfg.encoding, "embedding_dim": m.embedding_dim, "cell": m.cell,
            "hidden_size": m.hidden_size, "num_layers": m.num_layers,
            "nonlinearity": m.nonlinearity, "dropout": m.dropout, "genre_dim": m.genre_dim,
            "condition": m.condition, **_clock(m, vocabs["tokens"]),
            # serving: genre names and the sampling defaults the model was evaluated with
            "genres": list(vocabs["genres"].names), "temperature": m.temperature,
            "top_k": m.top_k, "max_len": m.max_len}


def _clock(m: Any, vocab: Vocabulary) -> dict[str, Any]:
    """The clock input's settings: every token's length in quarter notes and the bar line."""
    if not m.clock or music.BAR not in vocab.stoi:
        return {}
    lengths = []
    for tok in vocab.itos:
        parsed = music.parse_token(tok) if tok != music.BAR else None
        lengths.append(parsed[1] if parsed else 0.0)
    return {"token_durations": lengths, "reset_id": vocab.stoi[music.BAR],
            "clock_dim": m.clock_dim}


def build_net(config: dict[str, Any]) -> nn.Module:
    net = OneToMany(**{k: v for k, v in config.items() if k not in SERVING_KEYS})
    net.genre_names = list(config.get("genres", []))
    net.sampling = {"temperature": float(config.get("temperature", 1.0)),
                    "top_k": int(config.get("top_k", 0)), "max_len": int(config.get("max_len",
                                                                                    600))}
    return net


def lightning_module(cfg: TaskConfig, net: nn.Module, vocabs: dict[str, Any]
                     ) -> SequenceModelModule:
    return SequenceModelModule(net, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)


def generate(net: OneToMany, vocab: Vocabulary, genre_id: int, count: int, seed: int,
             temperature: float = 1.0, top_k: int = 0, max_len: int = 600) -> list[list[str]]:
    """`count` tunes of one genre as token lists (no <eot>), seeded."""
    gen = torch.Generator().manual_seed(int(seed))
    ids = net.sample(torch.full((count,), int(genre_id), dtype=torch.long), max_len,
                     eos=vocab.stoi[EOT], temperature=temperature, top_k=top_k,
                     banned=(vocab.pad_index, vocab.unk_index), generator=gen)
    return [vocab.decode(row) for row in ids]


# ---------------------------------------------------------------- baselines


class Bigram:
    """Per-genre bigram (Markov) model over the same token ids as the RNN, add-k smoothed:
    P(y<t> | y<t-1>, g) = (c_g(y<t-1>, y<t>) + k) / (c_g(y<t-1>) + k |V'|), with y<0> = the
    start (id 0) and V' the vocabulary without <pad>."""

    def __init__(self, encoded: dict[str, torch.Tensor], n_genres: int, vocab_size: int,
                 k: float) -> None:
        self.k, self.V = float(k), vocab_size
        self.counts = np.zeros((n_genres, vocab_size, vocab_size))
        for g, x, y, n in _rows(encoded):
            np.add.at(self.counts[g], (x[:n], y[:n]), 1)
        self.counts[:, :, 0] = 0  # <pad> is never a target

    def log_probs(self, g: int) -> np.ndarray:
        c = self.counts[g] + self.k
        c[:, 0] = 0
        return np.log(c / c.sum(1, keepdims=True), where=c > 0, out=np.full_like(c, -np.inf))

    def nll(self, encoded: dict[str, torch.Tensor]) -> tuple[float, int]:
        """Summed NLL over every target and the number of targets."""
        tables = {g: self.log_probs(g) for g in range(self.counts.shape[0])}
        total, count = 0.0, 0
        for g, x, y, n in _rows(encoded):
            total -= float(tables[g][x[:n], y[:n]].sum())
            count += n
        return total, count

    def sample(self, g: int, count: int, seed: int, eos: int, banned: tuple[int, ...],
               max_len: int) -> list[list[int]]:
        rng = np.random.default_rng(seed)
        probs = np.exp(self.log_probs(g))
        probs[:, list(banned)] = 0
        probs /= probs.sum(1, keepdims=True)
        out = []
        for _ in range(count):
            prev, row = 0, []
            for _ in range(max_len):
                y = int(rng.choice(self.V, p=probs[prev]))
                if y == eos:
                    break
                row.append(y)
                prev = y
            out.append(row)
        return out


def _rows(encoded: dict[str, torch.Tensor]):
    genres = encoded["genres"].numpy()
    ids, targets = encoded["ids"].numpy(), encoded["targets"].numpy()
    for i, n in enumerate(encoded["lengths"].tolist()):
        yield int(genres[i]), ids[i], targets[i], n


def fit_bigram(cfg: TaskConfig, encoded: dict[str, dict[str, torch.Tensor]], n_genres: int,
               vocab_size: int) -> tuple[Bigram, float]:
    """The add-k bigram with k chosen on dev NLL from `baselines.bigram.k` (one or a list)."""
    grid = cfg.baselines.get("bigram", {}).get("k", [0.01, 0.05, 0.2])
    grid = grid if isinstance(grid, list) else [grid]
    best: tuple[float, Bigram] | None = None
    for k in grid:
        model = Bigram(encoded["train"], n_genres, vocab_size, float(k))
        total, n = model.nll(encoded["dev"])
        if best is None or total / max(n, 1) < best[0]:
            best = (total / max(n, 1), model)
    assert best is not None
    return best[1], best[0]


def _durations_text(tokens: list[str]) -> str:
    return " ".join(t.split("_", 1)[1] if "_" in t else t for t in tokens)


class GenreClassifier:
    """A fixed, simple genre classifier: TF-IDF over token n-grams (1-3) and over duration /
    bar-line n-grams (1-4, the rhythm alone), logistic regression; C chosen on dev accuracy.
    Trained on real training tunes only, then it labels real test tunes and generated ones."""

    def __init__(self, cfg: TaskConfig) -> None:
        self.cfg = cfg.baselines.get("classifier", {})

    def _features(self, tunes: list[list[str]], fit: bool = False) -> Any:
        from scipy.sparse import hstack

        notes = [" ".join(t) for t in tunes]
        rhythm = [_durations_text(t) for t in tunes]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.notes = TfidfVectorizer(token_pattern=r"\S+", lowercase=False,
                                         ngram_range=(1, 3), sublinear_tf=True, min_df=2)
            self.rhythm = TfidfVectorizer(token_pattern=r"\S+", lowercase=False,
                                          ngram_range=(1, 4), sublinear_tf=True, min_df=2)
            return hstack([self.notes.fit_transform(notes), self.rhythm.fit_transform(rhythm)])
        return hstack([self.notes.transform(notes), self.rhythm.transform(rhythm)]).tocsr()

    def fit(self, train: pd.DataFrame, dev: pd.DataFrame) -> GenreClassifier:
        from sklearn.linear_model import LogisticRegression

        x = self._features([list(t) for t in train["tokens"]], fit=True)
        x_dev = self._features([list(t) for t in dev["tokens"]])
        grid = self.cfg.get("C", [1.0, 10.0, 100.0])
        grid = grid if isinstance(grid, list) else [grid]
        best = None
        for c in grid:
            model = LogisticRegression(C=float(c), max_iter=3000)
            model.fit(x, train["genre_id"])
            acc = float((model.predict(x_dev) == dev["genre_id"].to_numpy()).mean())
            if best is None or acc > best[0]:
                best = (acc, model, float(c))
        assert best is not None
        self.dev_accuracy, self.model, self.C = best
        return self

    def predict(self, tunes: list[list[str]]) -> np.ndarray:
        return self.model.predict(self._features(tunes))


# ---------------------------------------------------------------- metrics


def bar_lengths(tokens: list[str]) -> list[float]:
    """The length in quarter notes of every bar that has a bar line on both sides (the pickup
    before the first line and the rest after the last are not whole bars)."""
    bars, cur, started = [], 0.0, False
    for tok in tokens:
        if tok == music.BAR:
            if started:
                bars.append(cur)
            cur, started = 0.0, True
            continue
        parsed = music.parse_token(tok)
        if parsed:
            cur += parsed[1]
    return bars


def bar_fit(tunes: list[list[str]], lengths: list[float]) -> tuple[float, int]:
    """(share of whole bars whose length is one of `lengths`, number of whole bars)."""
    bars = [b for t in tunes for b in bar_lengths(t)]
    if not bars:
        return float("nan"), 0
    fits = sum(any(abs(b - L) < 1e-6 for L in lengths) for b in bars)
    return fits / len(bars), len(bars)


def pitch_class_histogram(tunes: list[list[str]]) -> np.ndarray:
    """Share of note time per pitch class (duration-weighted), 12 bins."""
    hist = np.zeros(12)
    for t in tunes:
        for tok in t:
            parsed = music.parse_token(tok) if tok != music.BAR else None
            if parsed and parsed[0] is not None:
                hist[parsed[0] % 12] += parsed[1]
    return hist / hist.sum() if hist.sum() else hist


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = same histogram, 1 = disjoint)."""
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        keep = a > 0
        return float((a[keep] * np.log2(a[keep] / b[keep])).sum())

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def evaluate(cfg: TaskConfig, net: nn.Module, frames: dict[str, pd.DataFrame],
             encoded: dict[str, dict[str, torch.Tensor]], vocabs: dict[str, Any],
             seed: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Likelihood vs the bigram, conditioning, metre and pitch classes of generated tunes, vs
    real test tunes; MIDI files and piano rolls."""
    vocab, genres = vocabs["tokens"], vocabs["genres"]
    m = cfg.model
    metrics: dict[str, float] = {"model/params": count_parameters(net)}
    eot = vocab.stoi[EOT]
    # likelihood, per token, teacher forced
    for split in ("dev", "test"):
        nll = sequence_nll(net, encoded[split])
        n = int(encoded[split]["lengths"].sum())
        metrics[f"{split}/nll"] = float(nll.sum()) / n
        metrics[f"{split}/perplexity"] = math.exp(metrics[f"{split}/nll"])
        if split == "test":
            notes = (encoded["test"]["targets"] != vocab.stoi.get(music.BAR, -1)) & (
                encoded["test"]["targets"] != eot) & encoded["test"]["mask"]
            metrics["test/nll_notes"] = float(nll[notes].sum()) / int(notes.sum())
    bigram, bigram_dev = fit_bigram(cfg, encoded, len(genres), len(vocab))
    total, n = bigram.nll(encoded["test"])
    metrics.update({"bigram/k": bigram.k, "bigram/dev/nll": bigram_dev,
                    "bigram/test/nll": total / n, "bigram/test/perplexity": math.exp(total / n),
                    "test/nll_ratio_to_bigram": metrics["test/nll"] / (total / n)})

    # generate K tunes per genre (RNN and bigram), seeded
    K = int(m.samples_per_genre)
    generated: dict[str, dict[str, list[list[str]]]] = {"rnn": {}, "bigram": {}}
    banned = (vocab.pad_index, vocab.unk_index)
    for gid, g in enumerate(genres.names):
        generated["rnn"][g] = generate(net, vocab, gid, K, seed + gid, m.temperature, m.top_k,
                                       m.max_len)
        generated["bigram"][g] = [vocab.decode(r) for r in bigram.sample(
            gid, K, seed + gid, eot, banned, m.max_len)]
    real = {g: [list(t) for t in frames["test"].loc[frames["test"]["genre"] == g, "tokens"]]
            for g in genres.names}

    # conditioning: the fixed classifier on real test tunes and on generated ones
    clf = GenreClassifier(cfg).fit(frames["train"], frames["dev"])
    test_pred = clf.predict([list(t) for t in frames["test"]["tokens"]])
    metrics["classifier/test/accuracy"] = float(
        (test_pred == frames["test"]["genre_id"].to_numpy()).mean())
    metrics["classifier/C"] = clf.C
    rows = []
    for gid, g in enumerate(genres.names):
        row = {"genre": g, "real": float((test_pred[frames["test"]["genre_id"] == gid]
                                          == gid).mean()) if len(real[g]) else float("nan")}
        for name in ("rnn", "bigram"):
            row[name] = float((clf.predict(generated[name][g]) == gid).mean())
        rows.append(row)
    conditioning = pd.DataFrame(rows)
    metrics["test/conditioning_accuracy"] = float(conditioning["rnn"].mean())
    metrics["bigram/test/conditioning_accuracy"] = float(conditioning["bigram"].mean())
    for r in rows:
        metrics[f"test/conditioning_accuracy_{r['genre']}"] = r["rnn"]
        metrics[f"classifier/test/accuracy_{r['genre']}"] = r["real"]

    # metre: share of whole bars whose length fits the genre's metres (from training tunes)
    metre_rows, pitch_rows = [], []
    for g in genres.names:
        lengths = genres.bar_lengths(g)
        row = {"genre": g, "metres": " ".join(m for m, s in genres.metres[g].items()
                                              if s >= 0.05),
               "bar_lengths": " ".join(f"{x:g}" for x in lengths)}
        for name, tunes in (("real", real[g]), ("rnn", generated["rnn"][g]),
                            ("bigram", generated["bigram"][g])):
            row[name], row[f"{name}_bars"] = bar_fit(tunes, lengths)
        metre_rows.append(row)
        hists = {"real": pitch_class_histogram(real[g]),
                 "rnn": pitch_class_histogram(generated["rnn"][g]),
                 "bigram": pitch_class_histogram(generated["bigram"][g])}
        for pc in range(12):
            pitch_rows.append({"genre": g, "pitch_class": PITCH_CLASSES[pc],
                               **{k: round(float(h[pc]), 5) for k, h in hists.items()}})
        metrics[f"test/pitch_class_js_{g}"] = js_divergence(hists["rnn"], hists["real"])
        metrics[f"bigram/test/pitch_class_js_{g}"] = js_divergence(hists["bigram"], hists["real"])
    metre = pd.DataFrame(metre_rows)
    if metre["real_bars"].sum():
        metrics["test/bar_fit_real"] = float(np.nanmean(metre["real"]))
        metrics["test/bar_fit"] = float(np.nanmean(metre["rnn"]))
        metrics["bigram/test/bar_fit"] = float(np.nanmean(metre["bigram"]))
    metrics["test/pitch_class_js"] = float(np.mean(
        [metrics[f"test/pitch_class_js_{g}"] for g in genres.names]))
    metrics["bigram/test/pitch_class_js"] = float(np.mean(
        [metrics[f"bigram/test/pitch_class_js_{g}"] for g in genres.names]))
    lengths = {name: float(np.mean([len(t) for g in genres.names for t in generated[name][g]]))
               for name in generated}
    metrics["test/generated_tokens_mean"] = lengths["rnn"]
    metrics["test/real_tokens_mean"] = float(np.mean([len(t) for t in frames["test"]["tokens"]]))
    metrics["test/stopped_at_eot"] = float(np.mean(
        [len(t) < m.max_len for g in genres.names for t in generated["rnn"][g]]))

    files: dict[str, Any] = {
        "metre.png": lambda p: _metre_figure(metre, p),
        "conditioning.png": lambda p: _conditioning_figure(conditioning, p),
    }
    for g in genres.names:
        files[f"pianoroll_{g}.png"] = (lambda p, g=g: _pianoroll(
            generated["rnn"][g][:3], real[g][:1], g, p))
        for i, tune in enumerate(generated["rnn"][g][: int(m.midi_per_genre)]):
            files[f"midi/{g}_{i + 1}.mid"] = (lambda p, t=tune, g=g, i=i: music.write_midi(
                t, p, genres.main_metre(g), title=f"rnnlab {g} {i + 1}"))
    examples = [f"{g}: {' '.join(generated['rnn'][g][0][:60])} ..." for g in genres.names]
    tables = {"metre": metre, "conditioning": conditioning,
              "pitch_classes": pd.DataFrame(pitch_rows)}
    return metrics, {"tables": tables, "files": files, "examples": examples}


# ---------------------------------------------------------------- figures


def _metre_figure(metre: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab.plots import save

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    x = np.arange(len(metre))
    for i, (name, label) in enumerate((("real", "real test tunes"), ("rnn", "RNN, generated"),
                                       ("bigram", "bigram, generated"))):
        ax.bar(x + (i - 1) * 0.27, metre[name], 0.27, label=label)
    ax.set_xticks(x, [f"{g}\n({m})" for g, m in zip(metre["genre"], metre["metres"],
                                                     strict=True)])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of whole bars in the genre's metre")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("music: do generated bars keep the genre's metre?")
    save(fig, path)


def _conditioning_figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab.plots import save

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(table))
    for i, (name, label) in enumerate((("real", "real test tunes"), ("rnn", "RNN, generated"),
                                       ("bigram", "bigram, generated"))):
        ax.bar(x + (i - 1) * 0.27, table[name], 0.27, label=label)
    ax.set_xticks(x, list(table["genre"]))
    ax.set_ylim(0, 1)
    ax.set_ylabel("classified as the genre")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("music: genre classifier on real and generated tunes")
    save(fig, path)


def _pianoroll(generated: list[list[str]], real: list[list[str]], genre: str,
               path: Path) -> None:
    import matplotlib.pyplot as plt

    from rnnlab.plots import save

    rows = [(f"generated {i + 1}", t) for i, t in enumerate(generated)] + \
        [(f"real (test): {i + 1}", t) for i, t in enumerate(real)]
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.9 * len(rows)), squeeze=False)
    for ax, (label, tokens) in zip(axes[:, 0], rows, strict=True):
        t = 0.0
        for tok in tokens:
            if tok == music.BAR:
                ax.axvline(t, color="0.85", lw=0.6, zorder=0)
                continue
            parsed = music.parse_token(tok)
            if not parsed:
                continue
            midi, ql = parsed
            if midi is not None:
                ax.broken_barh([(t, ql)], (midi - 0.4, 0.8), color="tab:blue")
            t += ql
        ax.set_xlim(0, max(t, 1))
        ax.set_ylabel("MIDI pitch")
        ax.set_title(f"{genre}: {label}", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (quarter notes)")
    fig.tight_layout()
    save(fig, path)


# ---------------------------------------------------------------- serving


def predict_params(cfg: TaskConfig) -> dict[str, Any]:
    """pyfunc `params` and their defaults (the logged model's signature declares them)."""
    m = cfg.model
    return {"count": 1, "seed": 0, "temperature": float(m.temperature), "top_k": int(m.top_k),
            "max_len": int(m.max_len)}


def model_input(raw: Any) -> list[dict[str, Any]]:
    """Genre names (a string, a list, or a DataFrame with a `genre` column and optional
    `count` / `seed` columns) -> one request per row."""
    if hasattr(raw, "to_dict") and hasattr(raw, "columns"):
        frame = raw if "genre" in raw.columns else raw.rename(columns={raw.columns[0]: "genre"})
        return [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
                for row in frame.to_dict("records")]
    if isinstance(raw, str):
        raw = [raw]
    return [r if isinstance(r, dict) else {"genre": str(r)} for r in raw]


def predict(net: nn.Module, vocabs: dict[str, Any], inputs: list[Any],
            params: dict | None = None) -> list[dict[str, Any]]:
    """For every request ({genre, count, seed} or a genre name): `count` generated tunes as
    note sequences: tokens, and notes as [MIDI pitch or None for a rest, quarter notes, bar].
    `params` (count, seed, temperature, top_k, max_len) apply to every request that does not
    set them. `rnnlab.data.music.write_midi(tune["tokens"], "tune.mid")` writes one as MIDI."""
    params = dict(params or {})
    vocab = vocabs["tokens"]
    names = list(getattr(net, "genre_names", vocabs["genres"].names))
    sampling = {**getattr(net, "sampling", {}), **{k: params[k] for k in
                                                   ("temperature", "top_k", "max_len")
                                                   if k in params}}
    out = []
    for req in [r if isinstance(r, dict) else {"genre": str(r)} for r in inputs]:
        genre = str(req.get("genre"))
        if genre not in names:
            raise ValueError(f"unknown genre {genre!r}; the model knows {names}")
        count = int(req.get("count", params.get("count", 1)))
        seed = int(req.get("seed", params.get("seed", 0)))
        tunes = generate(net, vocab, names.index(genre), count, seed,
                         float(sampling.get("temperature", 1.0)), int(sampling.get("top_k", 0)),
                         int(sampling.get("max_len", 600)))
        out.append({"genre": genre, "seed": seed, "tunes": [
            {"tokens": t, "notes": music.notes(t), "metre": vocabs["genres"].main_metre(genre)}
            for t in tunes]})
    return out
