"""Seeded generator of sentences for binary species-name recognition (IOB2 tags).

The lecture's example is "in the impenetrable forest there are populations of Panthera leo
and Loxodonta africana": a many-to-many RNN must tag every token as part of a scientific
(Latin binomial) animal name or not. This module writes such sentences from templates so the
task runs with no download, and it is built so that memorising names is not enough:

* Unseen species. Species are split by GENUS, so no test genus (and hence no test species)
  ever occurs in training. The model must learn the shape "Capitalised word + lower-case
  Latin-looking word in a biological context", not a gazetteer.
* Distractors that share the cue. Capitalised words labelled O appear in every split, many
  reusing genus words ("Panthera Corporation", "Python developers", "Boa Vista", the
  constellations Cygnus and Canis Major, "Gorilla Glass", "Vespa scooters"), next to person
  and place names (Charles Darwin, Lake Victoria). Capitalisation alone does not decide.
* Abbreviations. About one mention in ten is written "P. leo": the genus token is a bare
  initial, which still opens the entity (B-Species).
* No-entity sentences. About 20% of sentences contain no species at all.

Tokens are whitespace tokens with punctuation split off; tags are "B-Species" on the genus,
"I-Species" on the epithet and "O" elsewhere.
"""

from __future__ import annotations

import random
import re

Sentence = tuple[list[str], list[str]]

TAGS: tuple[str, ...] = ("O", "B-Species", "I-Species")
SPLITS: tuple[str, ...] = ("train", "dev", "test")

# Real binomials, several per line to keep the file short. Genus words that double as ordinary
# English or brand names (Python, Boa, Pan, Gorilla, Lynx, Vespa ...) are kept on purpose.
# fmt: off
SPECIES: tuple[str, ...] = (
    # mammals
    "Panthera leo", "Panthera tigris", "Panthera pardus", "Panthera onca",
    "Loxodonta africana", "Loxodonta cyclotis", "Elephas maximus", "Gorilla gorilla",
    "Gorilla beringei", "Pan troglodytes", "Pan paniscus", "Pongo pygmaeus", "Pongo abelii",
    "Hylobates lar", "Macaca mulatta", "Macaca fuscata", "Papio anubis", "Mandrillus sphinx",
    "Ailuropoda melanoleuca", "Ursus arctos", "Ursus maritimus", "Ursus americanus",
    "Canis lupus", "Canis latrans", "Vulpes vulpes", "Vulpes lagopus", "Lycaon pictus",
    "Acinonyx jubatus", "Lynx lynx", "Lynx pardinus", "Puma concolor", "Felis silvestris",
    "Crocuta crocuta", "Hyaena hyaena", "Giraffa camelopardalis", "Hippopotamus amphibius",
    "Ceratotherium simum", "Diceros bicornis", "Rhinoceros unicornis", "Equus quagga",
    "Equus grevyi", "Syncerus caffer", "Bison bison", "Bison bonasus", "Alces alces",
    "Cervus elaphus", "Rangifer tarandus", "Capreolus capreolus", "Connochaetes taurinus",
    "Oryx gazella", "Gazella gazella", "Aepyceros melampus", "Tragelaphus strepsiceros",
    "Okapia johnstoni", "Camelus dromedarius", "Vicugna pacos", "Lama glama", "Sus scrofa",
    "Phacochoerus africanus", "Tapirus terrestris", "Myrmecophaga tridactyla",
    "Bradypus variegatus", "Dasypus novemcinctus", "Didelphis virginiana",
    "Phascolarctos cinereus", "Macropus giganteus", "Vombatus ursinus", "Sarcophilus harrisii",
    "Ornithorhynchus anatinus", "Tachyglossus aculeatus", "Erinaceus europaeus",
    "Talpa europaea", "Sorex araneus", "Castor fiber", "Castor canadensis", "Sciurus vulgaris",
    "Marmota marmota", "Hystrix cristata", "Hydrochoerus hydrochaeris", "Rattus norvegicus",
    "Mus musculus", "Oryctolagus cuniculus", "Lepus europaeus", "Pteropus vampyrus",
    "Desmodus rotundus", "Myotis myotis", "Balaenoptera musculus", "Megaptera novaeangliae",
    "Physeter macrocephalus", "Orcinus orca", "Tursiops truncatus", "Delphinus delphis",
    "Delphinapterus leucas", "Monodon monoceros", "Trichechus manatus", "Dugong dugon",
    "Odobenus rosmarus", "Phoca vitulina", "Mirounga leonina", "Enhydra lutris", "Lutra lutra",
    "Meles meles", "Gulo gulo", "Mustela erminea", "Procyon lotor", "Nasua nasua",
    "Ailurus fulgens", "Suricata suricatta",
    # birds
    "Aquila chrysaetos", "Haliaeetus leucocephalus", "Falco peregrinus", "Falco rusticolus",
    "Bubo bubo", "Tyto alba", "Strix aluco", "Struthio camelus", "Dromaius novaehollandiae",
    "Rhea americana", "Casuarius casuarius", "Apteryx australis", "Aptenodytes forsteri",
    "Spheniscus demersus", "Pygoscelis adeliae", "Diomedea exulans", "Pelecanus onocrotalus",
    "Phoenicopterus roseus", "Ciconia ciconia", "Ardea cinerea", "Grus grus", "Cygnus olor",
    "Anas platyrhynchos", "Branta canadensis", "Gallus gallus", "Pavo cristatus",
    "Meleagris gallopavo", "Columba livia", "Ara macao", "Psittacus erithacus",
    "Cacatua galerita", "Strigops habroptilus", "Corvus corax", "Pica pica", "Turdus merula",
    "Erithacus rubecula", "Passer domesticus", "Sturnus vulgaris", "Hirundo rustica",
    "Apus apus", "Alcedo atthis", "Buceros bicornis", "Ramphastos toco", "Dryocopus martius",
    "Trochilus polytmus", "Cyanistes caeruleus", "Parus major", "Fringilla coelebs",
    "Sula nebouxii", "Fratercula arctica", "Vultur gryphus", "Gyps fulvus",
    "Sagittarius serpentarius", "Harpia harpyja",
    # reptiles
    "Python regius", "Python bivittatus", "Boa constrictor", "Eunectes murinus",
    "Ophiophagus hannah", "Naja naja", "Dendroaspis polylepis", "Crotalus atrox",
    "Vipera berus", "Bitis arietans", "Crocodylus niloticus", "Crocodylus porosus",
    "Alligator mississippiensis", "Gavialis gangeticus", "Caiman crocodilus",
    "Varanus komodoensis", "Iguana iguana", "Chamaeleo calyptratus", "Gekko gecko",
    "Pogona vitticeps", "Heloderma suspectum", "Amblyrhynchus cristatus", "Draco volans",
    "Lacerta agilis", "Sphenodon punctatus", "Chelonia mydas", "Caretta caretta",
    "Dermochelys coriacea", "Chelonoidis niger", "Testudo hermanni", "Trachemys scripta",
    # amphibians
    "Ambystoma mexicanum", "Salamandra salamandra", "Andrias davidianus", "Triturus cristatus",
    "Lithobates catesbeianus", "Rana temporaria", "Bufo bufo", "Rhinella marina",
    "Dendrobates tinctorius", "Phyllobates terribilis", "Xenopus laevis",
    "Agalychnis callidryas", "Hyla arborea",
    # fish
    "Salmo salar", "Salmo trutta", "Oncorhynchus mykiss", "Carcharodon carcharias",
    "Rhincodon typus", "Sphyrna mokarran", "Galeocerdo cuvier", "Mobula birostris",
    "Thunnus thynnus", "Gadus morhua", "Clupea harengus", "Cyprinus carpio",
    "Carassius auratus", "Danio rerio", "Esox lucius", "Perca fluviatilis", "Hippocampus kuda",
    "Amphiprion ocellaris", "Pterois volitans", "Latimeria chalumnae", "Anguilla anguilla",
    "Mola mola", "Betta splendens", "Pygocentrus nattereri", "Arapaima gigas",
    "Acipenser sturio", "Poecilia reticulata",
    # insects and arachnids
    "Apis mellifera", "Apis cerana", "Bombus terrestris", "Vespa crabro", "Formica rufa",
    "Atta cephalotes", "Danaus plexippus", "Papilio machaon", "Bombyx mori",
    "Drosophila melanogaster", "Anopheles gambiae", "Aedes aegypti", "Musca domestica",
    "Coccinella septempunctata", "Lucanus cervus", "Dynastes hercules", "Locusta migratoria",
    "Schistocerca gregaria", "Mantis religiosa", "Periplaneta americana", "Gryllus campestris",
    "Anax imperator", "Tribolium castaneum", "Latrodectus mactans", "Araneus diadematus",
    "Theraphosa blondi", "Androctonus australis", "Ixodes ricinus",
    # molluscs, crustaceans and other invertebrates
    "Octopus vulgaris", "Sepia officinalis", "Architeuthis dux", "Nautilus pompilius",
    "Helix pomatia", "Mytilus edulis", "Crassostrea gigas", "Tridacna gigas",
    "Haliotis rufescens", "Conus geographus", "Homarus americanus", "Homarus gammarus",
    "Callinectes sapidus", "Birgus latro", "Euphausia superba", "Daphnia pulex",
    "Paralithodes camtschaticus", "Asterias rubens", "Acropora palmata", "Aurelia aurita",
    "Hydra vulgaris", "Physalia physalis", "Lumbricus terrestris", "Hirudo medicinalis",
    "Caenorhabditis elegans", "Strongylocentrotus purpuratus",
)

# Sentences with one or two species. {S1}/{S2} are species slots; a slot used twice names the
# same species, and its later mentions are usually abbreviated ("P. leo"), as in real prose.
SPECIES_TEMPLATES: tuple[str, ...] = (
    "in the {ADJ} {HAB} there are populations of {S1} and {S2} .",
    "{RES} tracked {S1} near {PLACE} .",
    "{PERSON} wrote about {S1} in {POSS} notebook .",
    "a small population of {S1} survives in {PLACE} , far from any road .",
    "the survey counted {NUM} individuals of {S1} along the edge of the {HAB} .",
    "{RES} {SAW} {S1} feeding close to the {HAB} at dawn .",
    "unlike {S2} , {S1} rarely leaves the {HAB} during the dry season .",
    "camera traps in {PLACE} recorded {S1} and {S2} within a single night .",
    "the diet of {S1} changes with the seasons in {PLACE} .",
    "{S1} was first described by {PERSON} in {YEAR} .",
    "genetic samples from {S1} were sent to a lab in {PLACE} .",
    "{ORG} sponsored a study of {S1} in the {ADJ} {HAB} .",
    "local guides say {S1} is easier to spot after heavy rain .",
    "the museum in {PLACE} keeps a preserved specimen of {S1} .",
    "{RES} compared the behaviour of {S1} with that of {S2} .",
    "a young {S1} was rescued by volunteers near {PLACE} in {YEAR} .",
    "{S1} is listed as vulnerable in several parts of {PLACE} .",
    "during the expedition , {PERSON} photographed {S1} in the {ADJ} {HAB} .",
    "the presence of {S1} suggests that the {HAB} is still healthy .",
    "climate change may push {S1} out of the {HAB} within decades .",
    "a new paper models how {S1} competes with {S2} for food .",
    "after {YEAR} , sightings of {S1} in {PLACE} became rare .",
    "we found traces of {S1} but no sign of {S2} .",
    "{S1} , {S2} and several other species share the same {HAB} .",
    "the documentary narrated by {PERSON} follows {S1} through one year .",
    "rangers in {PLACE} protect {S1} from poachers .",
    "the genome of {S1} was sequenced by a team in {PLACE} in {YEAR} .",
    "on a clear night near {PLACE} we watched {STAR} rise while {S1} moved through the {HAB} .",
    "students used {LANG} to analyse {NUM} recordings of {S1} .",
    "a colleague from {ORG} asked whether {S1} had been seen in {PLACE} .",
    "{S1} was common here in {YEAR} ; today {S1} is seldom seen .",
    "field notes describe {S1} in detail , and {S1} appears again in the appendix .",
    "there is no record of {S1} north of {PLACE} .",
    "{NUM} nests of {S1} were counted on the island this year .",
    "is {S1} really found in {PLACE} ?",
    "the parasite infects {S1} but not {S2} .",
    "{PERSON} , who drives a {CAR} , studies {S1} in {PLACE} .",
    "sightings of {S1} near {PLACE} were reported to {ORG} .",
    "since {YEAR} the range of {S1} has shrunk by half .",
    "the {HAB} near {PLACE} hosts both {S1} and {S2} .",
    "{S1} and {S2} were photographed at the same water hole .",
    "a field guide by {PERSON} lists {S1} under rare visitors .",
    "the zoo in {PLACE} started a breeding programme for {S1} .",
    "next to a crate of {LOOK} , customs officers found a live {S1} .",
    "{S1} appears on a stamp issued in {PLACE} in {YEAR} .",
    "the seminar in {PLACE} covered {LANG} , statistics and the ecology of {S1} .",
    "{RES} {SAW} {STAR} and , later that night , {S1} near the camp .",
    "in {POSS} letters , {PERSON} compares {S1} to {S2} .",
)

# Sentences with no species: only distractors and ordinary words, so that every capitalised
# cue (genus-like brands, constellations, people, places) is also seen labelled O.
NO_SPECIES_TEMPLATES: tuple[str, ...] = (
    "{ORG} reported record profits in {PLACE} .",
    "{LANG} developers gathered in {PLACE} for a conference .",
    "{PERSON} visited {PLACE} in {YEAR} .",
    "the new {CAR} was unveiled in {PLACE} last week .",
    "on a clear night you can see {STAR} and {STAR} above {PLACE} .",
    "{PERSON} rewrote the parser in {LANG} over the weekend .",
    "{ORG} unveiled a new version of the {PRODUCT} .",
    "shoppers in {PLACE} queued for {LOOK} all morning .",
    "{PERSON} compared {LANG} with {LANG} in a popular blog post .",
    "{ORG} opened a new office in {PLACE} .",
    "the {ADJ} {HAB} near {PLACE} was quiet that evening .",
    "{RES} spent {NUM} weeks in the {HAB} without seeing a single animal .",
    "a biography of {PERSON} was published in {YEAR} .",
    "{PERSON} met {PERSON} at a conference in {PLACE} .",
    "the ferry from {PLACE} to {PLACE} was cancelled because of the storm .",
    "tickets for the {PRODUCT} launch sold out in minutes .",
    "our team ported the code from {LANG} to {LANG} .",
    "{PERSON} told us that the ancient Egyptians worshipped the Apis bull at Memphis .",
    "is {LANG} still popular among students in {PLACE} ?",
    "{PERSON} lost a box of {LOOK} somewhere in {PLACE} .",
    "{RES} {SAW} {STAR} from a hill above {PLACE} .",
    "a dealer in {PLACE} sold {NUM} {LOOK} to {ORG} .",
)

# Distractor fillers, all tagged O. Many reuse genus words from SPECIES on purpose.
_FILLER_TEXT: dict[str, tuple[str, ...]] = {
    "PERSON": (
        "Charles Darwin", "Leo Tolstoy", "Alfred Russel Wallace", "Jane Goodall",
        "Dian Fossey", "David Attenborough", "Carl Linnaeus", "Gregor Mendel", "Rachel Carson",
        "Peter Pan", "Ernst Mayr", "Mary Anning", "Alexander von Humboldt", "Jacques Cousteau",
        "Steve Irwin", "Marie Curie", "Ada Lovelace", "Guido van Rossum", "Falco",
        "the Dalai Lama", "Gordon Gekko", "Rhea Perlman", "Leo Varadkar", "Lionel Messi",
        "Frida Kahlo", "Maria Sibylla Merian", "my aunt", "a retired teacher",
    ),
    "PLACE": (
        "Lake Victoria", "Mount Kenya", "Boa Vista", "Java", "Borneo", "Sumatra", "Madagascar",
        "Costa Rica", "Lake Tanganyika", "Kruger National Park", "the Serengeti",
        "Bwindi Impenetrable Forest", "the Galapagos Islands", "Tasmania", "New Guinea",
        "Patagonia", "Sri Lanka", "Yellowstone", "the Okavango Delta", "Puerto Rico",
        "the Amazon basin", "Lake Baikal", "the Great Barrier Reef", "Mount Kilimanjaro",
        "Cape Town", "Nairobi", "Manaus", "Darwin", "Victoria Falls", "Panama",
        "the Congo basin", "Kakadu National Park", "Lake Titicaca", "Hudson Bay", "Svalbard",
        "Ardea", "L'Aquila", "Memphis", "the valley",
    ),
    "ORG": (
        "Panthera Corporation", "Jaguar Land Rover", "Puma", "Apple", "Amazon", "Oracle",
        "Octopus Energy", "Red Bull", "the Python Software Foundation", "Corvus Energy",
        "Penguin Books", "Pelican Products", "Falcon Capital", "Vespa", "Formica Group",
        "Giovanni Rana", "Condor Airlines", "Pan Am", "Mustang Survival", "Greenpeace", "Tesla",
        "Puffin Books", "the WWF", "the university",
    ),
    "CAR": (
        "Jaguar", "Ford Mustang", "Ford Bronco", "Ford Puma", "Dodge Viper", "VW Beetle",
        "Chevrolet Impala", "Jaguar XE", "Hyundai Equus", "Vespa", "Nissan Leaf",
    ),
    "PRODUCT": (
        "Falcon Heavy", "Apple Watch", "Octopus card", "Kindle", "Gorilla Glass",
        "ASUS ROG Strix", "Python interpreter", "Java runtime", "Firefox browser",
        "Boeing 747", "Jaguar XE",
    ),
    "LOOK": (
        "Python scripts", "Java applets", "Puma sneakers", "Lynx deodorants", "Octopus cards",
        "Falcon rockets", "Mustang convertibles", "Nautilus machines", "Pelican cases",
        "Gorilla glue tubes", "Pan pipes", "Jaguar sedans", "Apple laptops",
        "Penguin paperbacks", "Vespa scooters", "Formica countertops", "Strix laptops",
        "Apis figurines", "Rana tortellini",
    ),
    "LANG": (
        "Python", "Java", "Julia", "Rust", "Ruby", "Go", "Perl", "Swift", "Kotlin", "Haskell",
        "Scala", "R",
    ),
    "STAR": (
        "Leo", "Lynx", "Cygnus", "Aquila", "Pavo", "Columba", "Corvus", "Grus", "Lupus",
        "Musca", "Ara", "Apus", "Lacerta", "Delphinus", "Draco", "Volans", "Monoceros", "Hydra",
        "Sagittarius", "Canis Major", "Castor", "Procyon", "Ursa Minor", "Orion",
        "the Helix Nebula",
    ),
    # Ordinary lower-case words, varied so the templates do not read as one fixed string.
    "ADJ": (
        "impenetrable", "dense", "remote", "humid", "misty", "flooded", "ancient", "dry",
        "protected", "undisturbed", "rocky", "coastal", "northern", "southern", "lowland",
        "montane",
    ),
    "HAB": (
        "forest", "rainforest", "swamp", "savanna", "grassland", "wetland", "reef",
        "river delta", "mangrove", "valley", "marsh", "lagoon", "canyon", "woodland", "tundra",
        "estuary", "cloud forest", "river",
    ),
    "RES": (
        "researchers", "biologists", "ecologists", "field teams", "rangers", "volunteers",
        "zoologists", "park staff", "students", "conservationists", "two photographers",
    ),
    "SAW": ("observed", "recorded", "spotted", "photographed", "filmed", "tracked", "noticed"),
    "NUM": (
        "two", "three", "five", "eight", "twelve", "several", "dozens of", "2", "3", "7", "12",
        "15", "24", "40", "120",
    ),
    "POSS": ("his", "her", "their"),
    "YEAR": tuple(str(year) for year in range(1858, 2024)),
}
# fmt: on

# Words kept whole: slots, words with inner apostrophes or hyphens (L'Aquila), numbers;
# any other non-space character is a punctuation token of its own.
_TOKEN_RE = re.compile(r"\{[A-Z0-9]+\}|\w+(?:['\-]\w+)*|[^\w\s]")
_SLOT_RE = re.compile(r"^\{([A-Z0-9]+)\}$")

_FIRST_MENTION_ABBREV = 0.07  # "P. leo" on a first mention: rare, but it must be seen
_REPEAT_MENTION_ABBREV = 0.7  # a repeated mention is usually abbreviated, as in papers
_NO_SPECIES_RATE = 0.2  # share of sentences without any entity
_CAPITALISE_RATE = 0.1  # sentence-initial capital is occasional, so it is no entity cue


def tokenize(text: str) -> list[str]:
    """Split text into whitespace tokens with punctuation as tokens of its own."""
    return _TOKEN_RE.findall(text)


_FILLERS: dict[str, tuple[list[str], ...]] = {
    slot: tuple(tokenize(phrase) for phrase in phrases) for slot, phrases in _FILLER_TEXT.items()
}
_SPECIES_TPL: tuple[list[str], ...] = tuple(tokenize(t) for t in SPECIES_TEMPLATES)
_NO_SPECIES_TPL: tuple[list[str], ...] = tuple(tokenize(t) for t in NO_SPECIES_TEMPLATES)


def _species_slots(template: list[str]) -> list[str]:
    """Distinct species slot names ("S1", "S2") in order of first use."""
    slots: list[str] = []
    for token in template:
        match = _SLOT_RE.match(token)
        # S1, S2 ... only: distractor slots such as SAW and STAR also start with "S".
        if match and re.fullmatch(r"S\d+", match.group(1)) and match.group(1) not in slots:
            slots.append(match.group(1))
    return slots


def genus(species: str) -> str:
    """Genus word of a binomial ("Panthera leo" -> "Panthera")."""
    return species.split()[0]


def split_species(
    seed: int, dev_frac: float = 0.15, test_frac: float = 0.2
) -> dict[str, list[str]]:
    """Split SPECIES into train/dev/test by genus, so no genus is shared between splits.

    Fractions are of genera, not species. Deterministic for a seed.
    """
    if not (0 < dev_frac < 1 and 0 < test_frac < 1 and dev_frac + test_frac < 1):
        raise ValueError("dev_frac and test_frac must be in (0, 1) and sum to less than 1")
    # Sorted before shuffling so the result does not depend on set iteration order.
    genera = sorted({genus(s) for s in SPECIES})
    random.Random(seed).shuffle(genera)
    n_test = max(1, round(len(genera) * test_frac))
    n_dev = max(1, round(len(genera) * dev_frac))
    groups = {
        "test": set(genera[:n_test]),
        "dev": set(genera[n_test : n_test + n_dev]),
        "train": set(genera[n_test + n_dev :]),
    }
    return {name: [s for s in SPECIES if genus(s) in groups[name]] for name in SPLITS}


def _species_tokens(species: str, abbreviate: bool) -> list[str]:
    """Tokens of one mention: ["Panthera", "leo"] or the abbreviated ["P.", "leo"]."""
    genus_word, epithet = species.split()
    return [genus_word[0] + "." if abbreviate else genus_word, epithet]


# Lead-ins and tails of varying length move every mention to a different position, so a
# position-by-position (dense) model cannot memorise where names sit; an RNN shares weights.
_PREFIXES: tuple[list[str], ...] = tuple(tokenize(t) for t in (
    "yesterday ,", "surprisingly ,", "in the early morning ,", "as noted in the 2019 survey ,",
    "according to the latest field report from the station ,", "during the long dry season ,",
    "for the third year in a row ,", "in a short note ,", "once again ,",
    "after weeks of heavy rain in the lowlands ,",
))
_SUFFIXES: tuple[list[str], ...] = tuple(tokenize(t) for t in (
    ", according to local guides", ", as the team reported last spring",
    ", despite the heavy rain", ", or so the rangers say", ", at least in the dry season",
))
_PREFIX_RATE = 0.5
_SUFFIX_RATE = 0.3


def make_sentence(
    pool: list[str], rng: random.Random, with_species: bool | None = None
) -> Sentence:
    """Render one random sentence whose species come only from ``pool``.

    ``with_species`` forces a sentence with or without species; None draws it at random.
    """
    if with_species is None:
        with_species = rng.random() >= _NO_SPECIES_RATE
    if not with_species or not pool:
        template = rng.choice(_NO_SPECIES_TPL)
    else:
        # A pool too small for two distinct species falls back to one-species templates.
        usable = [t for t in _SPECIES_TPL if len(_species_slots(t)) <= len(pool)]
        template = rng.choice(usable)
    slots = _species_slots(template)
    chosen = dict(zip(slots, rng.sample(pool, len(slots)), strict=True))
    tokens: list[str] = []
    tags: list[str] = []
    mentioned: set[str] = set()
    for token in template:
        match = _SLOT_RE.match(token)
        if match is None:
            tokens.append(token)
            tags.append("O")
            continue
        slot = match.group(1)
        if slot in chosen:
            rate = _REPEAT_MENTION_ABBREV if slot in mentioned else _FIRST_MENTION_ABBREV
            mentioned.add(slot)
            tokens.extend(_species_tokens(chosen[slot], rng.random() < rate))
            tags.extend(["B-Species", "I-Species"])
        else:
            # Each distractor slot draws afresh, so "{LANG} ... {LANG}" may name two languages.
            words = rng.choice(_FILLERS[slot])
            tokens.extend(words)
            tags.extend(["O"] * len(words))
    if tokens[-1] in ".!?" and rng.random() < _SUFFIX_RATE:
        tail = rng.choice(_SUFFIXES)
        tokens[-1:-1], tags[-1:-1] = tail, ["O"] * len(tail)
    if rng.random() < _PREFIX_RATE:
        head = rng.choice(_PREFIXES)
        tokens, tags = [*head, *tokens], ["O"] * len(head) + tags
    if tags[0] == "O" and tokens[0].islower() and rng.random() < _CAPITALISE_RATE:
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens, tags


def _fill_unseen(
    pool: list[str], rng: random.Random, n: int, seen: set[tuple[str, ...]]
) -> list[Sentence]:
    """Draw ``n`` sentences whose token tuples are not in ``seen`` (bounded number of tries).

    Only no-species sentences can collide with train (species never cross splits), so a
    rejected draw is redrawn with the same kind; otherwise dev/test would hold fewer
    no-entity sentences than train.
    """
    out: list[Sentence] = []
    tries_left = 50 * n + 1000
    while len(out) < n:
        with_species = rng.random() >= _NO_SPECIES_RATE
        while tries_left > 0:
            tries_left -= 1
            tokens, tags = make_sentence(pool, rng, with_species)
            if tuple(tokens) not in seen:
                out.append((tokens, tags))
                break
        else:
            raise RuntimeError(f"could only draw {len(out)} of {n} sentences unseen in train")
    return out


def generate(n_train: int, n_dev: int, n_test: int, seed: int) -> dict[str, list[Sentence]]:
    """Generate tagged sentences for the three splits; deterministic for a seed.

    Each split draws species only from its own genera (see ``split_species``). Dev and test
    sentences whose token sequence also occurs in train are dropped and redrawn.
    """
    if min(n_train, n_dev, n_test) < 0:
        raise ValueError("sentence counts must be non-negative")
    pools = split_species(seed)
    # One generator per split, seeded from the master: train does not change when the dev
    # or test size changes, and the global random state is never touched.
    master = random.Random(seed)
    rngs = {name: random.Random(master.getrandbits(64)) for name in SPLITS}
    train = [make_sentence(pools["train"], rngs["train"]) for _ in range(n_train)]
    seen = {tuple(tokens) for tokens, _ in train}
    return {
        "train": train,
        "dev": _fill_unseen(pools["dev"], rngs["dev"], n_dev, seen),
        "test": _fill_unseen(pools["test"], rngs["test"], n_test, seen),
    }
