"""What a batch compresses: the files named by its INPUT arguments (files, folders searched
recursively, glob patterns), each with the relative path its `.nff` takes under OUTDIR."""
from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UsageError

# names a folder scan passes over: hidden files and our own outputs (a batch pointed at a
# folder that holds an earlier batch's OUTDIR must not try to encode its reports)
SKIPPED_SUFFIXES = frozenset({".nff", ".part"})
MAX_INPUTS = 1_000_000


@dataclass(frozen=True)
class BatchInput:
    path: Path  # where to read it
    relative: PurePosixPath  # where its outputs go under OUTDIR (without the .nff suffix added)

    @property
    def output_relative(self) -> PurePosixPath:
        return self.relative.with_name(self.relative.name + ".nff") if self.relative.suffix == "" else self.relative.with_suffix(".nff")


def discover(arguments: list[str], outdir: Path) -> list[BatchInput]:
    """Every input file the arguments name, in a stable order (sorted by relative path).

    A file maps to its name; a folder to the paths of its files below it; a glob pattern to
    the paths below the pattern's fixed leading folders. Two inputs that would write the same
    output, an argument that matches nothing and OUTDIR inside a scanned folder's outputs are
    handled before any work: the first two are usage errors, OUTDIR is skipped.
    """
    found: dict[PurePosixPath, Path] = {}
    outdir = outdir.resolve()
    for argument in arguments:
        for path, relative in _expand(argument, outdir):
            previous = found.get(relative)
            if previous is not None and previous.resolve() != path.resolve():
                raise UsageError(f"{previous} and {path} would both be written as {relative.with_suffix('.nff')} in the output folder; "
                                 "pass them in separate batches")
            found[relative] = path
            if len(found) > MAX_INPUTS:
                raise UsageError(f"more than {MAX_INPUTS} inputs: split the batch")
    inputs = [BatchInput(path, relative) for relative, path in sorted(found.items(), key=lambda kv: str(kv[0]))]
    outputs: dict[PurePosixPath, Path] = {}
    for item in inputs:  # photo.png and photo.jpg both make photo.nff
        clash = outputs.setdefault(item.output_relative, item.path)
        if clash != item.path:
            raise UsageError(f"{clash} and {item.path} would both be written as {item.output_relative}; rename one or split the batch")
    return inputs


def _expand(argument: str, outdir: Path) -> list[tuple[Path, PurePosixPath]]:
    path = Path(argument)
    if glob.has_magic(argument):
        matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
        base = _fixed_prefix(argument)
        files = [m for m in matches if m.is_file()] + [f for m in matches if m.is_dir() for f, _ in _scan(m, outdir)]
        if not files:
            raise UsageError(f"{argument}: no file matches")
        return [(f, _relative(f, base)) for f in files if not _inside(f, outdir)]
    if path.is_dir():
        files = _scan(path, outdir)
        if not files:
            raise UsageError(f"{argument}: the folder holds no files")
        return files
    if path.is_file():
        return [(path, PurePosixPath(path.name))]
    raise UsageError(f"no such file or folder: {argument}")


def _scan(folder: Path, outdir: Path) -> list[tuple[Path, PurePosixPath]]:
    out = []
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _inside(root_path / d, outdir))
        for name in sorted(files):
            file = root_path / name
            if name.startswith(".") or file.suffix.lower() in SKIPPED_SUFFIXES or not file.is_file():
                continue
            out.append((file, _relative(file, folder)))
    return out


def _fixed_prefix(pattern: str) -> Path:
    """The leading folders of a glob pattern that hold no wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _relative(path: Path, base: Path) -> PurePosixPath:
    # lexical, not resolved: a linked file inside the folder keeps its place in the tree
    return PurePosixPath(Path(os.path.relpath(path.absolute(), base.absolute())).as_posix())


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The content hash that ties an output to its input (read in bounded pieces)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
