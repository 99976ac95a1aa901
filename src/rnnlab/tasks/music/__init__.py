"""music: one-to-many, a genre id -> a melody (the lecture's Tx = 1, Ty = length of the tune).
"Input the musical genre (one integer) to generate a song (sequence of notes)."

Data (data.py, prepare.py): real tunes that ship with music21 (no download). By default Ryan's
Mammoth Collection (1,059 single-tune ABC files whose names end in their dance type: Reel, Jig,
Hornpipe, Strathspey, ...), the four largest genres; or any other music21 corpus collection by
name, or a folder of the user's MIDI / MusicXML / ABC files with the genre taken from the
sub-folder name. music21 parses every file once, in prepare (with a progress bar); the prepared
parquet frames keep the tokens, metre, key and title, so DVC caches the slow part.

Tokens (data.py): `<pitch>_<duration>` notes, `R_<duration>` rests, `|` bar lines
(`data.bar_tokens`, so the metre of generated tunes can be measured) and an end-of-tune token
`<eot>` (vocab.py); untransposed by default (`data.transpose: true` moves every key signature
to C / Am).

Model (model.py, OneToMany): the genre embedding sets a<0> (`model.condition: state`), is x<1>
(`input`), or sets a<0> and is appended to every x<t> (`every`, the default). Why: with a<0>
alone the genre has to survive a hundred or more cell updates, and on dev the generated tunes
drifted to the commonest genre (generated hornpipes classified as hornpipes 25% of the time,
strathspeys 38%); with the genre in every input it cannot be forgotten (40% and 62% on the same
run, 60-72% and 68-75% once trained with lr 0.006). x<1> alone is weaker still: the genre
enters the state only after one update, like a<0>, but through the input weights. The cell also
reads a clock (`model.clock`): the time since the last bar line, computed from the notes it has
read or generated, which is how it learns where a bar ends (bars of generated tunes in their
genre's metre on dev: 15-33% without it, 52-85% with it). Teacher forcing in training; sampling
draws with the `decode` section's temperature and top-k, and stops at <eot> or `decode.max_len`.

Evaluation (evaluate.py, baselines.py, figures.py) next to baselines on the same split:
per-token NLL / perplexity of held-out tunes vs a per-genre add-k bigram fitted on the same
training tunes (k chosen on dev); conditioning (a fixed TF-IDF n-gram + logistic regression
genre classifier trained on real training tunes labels K generated tunes per genre, next to its
accuracy on real test tunes); the share of bars whose length fits the genre's metre, generated
vs real; pitch-class histogram distance per genre. Generated tunes are written as MIDI files
with a piano roll per genre. Serving (serve.py): genre names in, seeded note sequences out.
"""
