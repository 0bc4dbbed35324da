"""The default instruction set, built deterministically from WordNet 3.0 as Debian's `wordnet-base` package
ships it (no data set can be downloaded here; a registry package can).

    python -m runner build-instructions --out models/house/instructions/wordnet.jsonl [--wordnet DIR] [--n 6000]

Without --wordnet it fetches the package with `apt-get download wordnet-base` (Debian's archive, by name
only) and unpacks it with `dpkg -x` into a cache folder; no root needed. Licence: the WordNet 3.0 licence
(BSD-style, Princeton University), whose notice travels with every copy: LICENCE_NOTICE below, written
beside the output as SOURCE.md.

Records come from monosemous lemmas (one synset in index.<pos>), so each question has one right answer:
  define  "Define the word." + lemma -> the gloss's definition part (before the first ';')
  example "Use the word in a sentence." + lemma -> a quoted gloss example that contains the lemma
  synonym "Give a synonym of the word." + lemma -> another lemma of its synset
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess

POS = ("noun", "verb", "adj", "adv")
KINDS = {
    "define": "Define the word.",
    "example": "Use the word in a sentence.",
    "synonym": "Give a synonym of the word.",
}
PACKAGE = "wordnet-base"
LICENCE_NOTICE = """WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.

Permission to use, copy, modify and distribute this software and database and its documentation for any
purpose and without fee or royalty is hereby granted, provided that you agree to comply with the following
copyright notice and statements, including the disclaimer, and that the same appear on ALL copies of the
software, database and documentation, including modifications that you make for internal use or for
distribution.

THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR
WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON UNIVERSITY MAKES NO
REPRESENTATIONS OR WARRANTIES OF MERCHANTABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE OF
THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS,
TRADEMARKS OR OTHER RIGHTS.

The name of Princeton University or Princeton may not be used in advertising or publicity pertaining to
distribution of the software and/or database. Title to copyright in this software, database and any
associated documentation shall at all times remain with Princeton University and LICENSEE agrees to
preserve same.
"""
_WORD = re.compile(r"^[a-z][a-z-]{2,24}$")  # plain lower-case words: no names, numbers or phrases


def fetch_wordnet(cache: str) -> str:
    """Debian's wordnet-base unpacked under `cache`; returns the folder of its database files."""
    folder = os.path.join(cache, "root", "usr", "share", "wordnet")
    if os.path.isfile(os.path.join(folder, "data.noun")):
        return folder
    os.makedirs(cache, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", "-qq", PACKAGE], cwd=cache, check=True)
        deb = next(f for f in sorted(os.listdir(cache)) if f.startswith(PACKAGE) and f.endswith(".deb"))
        subprocess.run(["dpkg", "-x", deb, "root"], cwd=cache, check=True)
    except (OSError, subprocess.CalledProcessError, StopIteration) as e:
        raise ValueError(
            f"could not fetch Debian's {PACKAGE} ({e}); on a non-Debian host unpack it yourself and pass --wordnet"
        ) from e
    return folder


def monosemous(wordnet: str, pos: str) -> dict[str, str]:
    """lemma -> synset offset, for lemmas with exactly one synset of this part of speech."""
    out = {}
    with open(os.path.join(wordnet, f"index.{pos}"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(" "):  # the licence header
                continue
            parts = line.split()
            lemma, count = parts[0], int(parts[2])
            if count == 1 and _WORD.match(lemma):
                out[lemma] = parts[-1]
    return out


def synsets(wordnet: str, pos: str) -> dict[str, tuple[list[str], str]]:
    """offset -> (lemmas, gloss)."""
    out = {}
    with open(os.path.join(wordnet, f"data.{pos}"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(" "):
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            n = int(fields[3], 16)
            lemmas = [re.sub(r"\(.*\)$", "", w).replace("_", " ") for w in fields[4 : 4 + 2 * n : 2]]
            out[fields[0]] = (lemmas, gloss.strip())
    return out


def records_for(lemma: str, lemmas: list[str], gloss: str) -> list[dict]:
    definition = gloss.split(";")[0].strip()
    out = []
    if len(definition) >= 8 and not definition.startswith('"'):
        out.append({"kind": "define", "output": definition[0].upper() + definition[1:] + "."})
    examples = [e for e in re.findall(r'"([^"]{12,160})"', gloss) if lemma in e.lower()]
    if examples:
        out.append({"kind": "example", "output": examples[0]})
    others = [w for w in lemmas if w.lower() != lemma and w.isascii()]
    if others:
        out.append({"kind": "synonym", "output": others[0]})
    return [{"instruction": KINDS[r["kind"]], "input": lemma, "output": r["output"]} for r in out]


def build(wordnet: str, n: int = 6000, seed: int = 0) -> list[dict]:
    """n records, the same for the same WordNet files, n and seed."""
    records = []
    for pos in POS:
        table = synsets(wordnet, pos)
        for lemma, offset in sorted(monosemous(wordnet, pos).items()):
            lemmas, gloss = table[offset]
            records += records_for(lemma, lemmas, gloss)
    random.Random(seed).shuffle(records)
    return records[:n]


def write(records: list[dict], out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(os.path.dirname(os.path.abspath(out)), "SOURCE.md"), "w") as f:
        f.write(
            f"# Source of {os.path.basename(out)}\n\nBuilt by `python -m runner build-instructions` "
            f"(gpu-runner/runner/instructions.py) from WordNet 3.0 as Debian's `{PACKAGE}` package ships it: "
            f"{len(records)} records. Licence: the WordNet 3.0 licence, whose notice follows.\n\n"
            f"```\n{LICENCE_NOTICE}```\n"
        )
