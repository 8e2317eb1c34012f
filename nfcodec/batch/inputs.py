"""What a batch compresses: the files named by its INPUT arguments (files, folders searched
recursively, glob patterns), each with the relative path its `.nff` takes under OUTDIR."""
from __future__ import annotations

import glob
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import UsageError

# names a folder scan passes over: hidden files and our own outputs (a batch pointed at a
# folder that holds an earlier batch's OUTDIR must not try to encode its reports)
SKIPPED_SUFFIXES = frozenset({".nff", ".part"})
# what nfc batch / nfc report write at the top of OUTDIR
OUTPUT_NAMES = re.compile(r"^(report\.(json|csv|html)|summary\.md|compare\.json|(rd|stages)_[a-z]+\.(png|svg))$")
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
    the paths below the pattern's fixed leading folders. A file named twice (by a file and a
    folder argument) is taken once, under its first name. Two inputs that would write the same
    output and an argument that names nothing are usage errors, before any work. OUTDIR's own
    contents (an earlier batch's outputs and reports) are never inputs.
    """
    found: dict[PurePosixPath, Path] = {}
    seen: set[Path] = set()
    outdir = outdir.resolve()
    for argument in arguments:
        for path, relative in _expand(argument, outdir):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            previous = found.get(relative)
            if previous is not None:
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
    if path.is_file():  # a literal name first: 'img[1].png' is a file, not a pattern
        return [(path, PurePosixPath(path.name))]
    if path.is_dir():
        files = _scan(path, outdir)
        if not files:
            raise UsageError(f"{argument}: the folder holds no input files")
        return files
    if glob.has_magic(argument):
        base = _fixed_prefix(argument)
        files: list[tuple[Path, PurePosixPath]] = []
        for match in sorted(Path(m) for m in glob.glob(argument, recursive=True)):
            if match.is_dir():
                files += _scan(match, outdir, base)
            elif match.is_file() and not _is_output(match, outdir) and not match.name.startswith("."):
                files.append((match, _relative(match, base, argument)))
        if not files:
            raise UsageError(f"{argument}: no input file matches")
        return files
    raise UsageError(f"no such file or folder: {argument}")


def _scan(folder: Path, outdir: Path, base: Path | None = None) -> list[tuple[Path, PurePosixPath]]:
    """The files below `folder` (linked folders followed once each), relative to `base`."""
    base = base or folder
    out, visited = [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        root_path = Path(root)
        real = root_path.resolve()
        if real in visited:  # a link back up the tree
            dirs[:] = []
            continue
        visited.add(real)
        # OUTDIR inside the scanned folder holds our outputs: not inputs
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (root_path / d).resolve() != outdir)
        for name in sorted(files):
            file = root_path / name
            if name.startswith(".") or file.suffix.lower() in SKIPPED_SUFFIXES or not file.is_file() or _is_output(file, outdir):
                continue
            out.append((file, _relative(file, base, str(folder))))
    return out


def _is_output(file: Path, outdir: Path) -> bool:
    """A report or plot that nfc batch / nfc report wrote at the top of OUTDIR."""
    return file.parent.resolve() == outdir and OUTPUT_NAMES.match(file.name) is not None


def _fixed_prefix(pattern: str) -> Path:
    """The leading folders of a glob pattern that hold no wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _relative(path: Path, base: Path, argument: str) -> PurePosixPath:
    # lexical, not resolved: a linked file inside the folder keeps its place in the tree
    relative = PurePosixPath(Path(os.path.normpath(os.path.relpath(path.absolute(), base.absolute()))).as_posix())
    if relative.is_absolute() or relative.parts[:1] == ("..",):
        raise UsageError(f"{argument}: {path} lies outside the pattern's folder {base}; its output would land outside OUTDIR")
    return relative


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """The content hash that ties an output to its input (read in bounded pieces)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
