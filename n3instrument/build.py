"""Turn a `.ai` file into a build folder, and keep a content-addressed cache of builds.

A build folder holds `program.py`, `__main__.py` (so `python DIR` runs it),
`manifest.json` and copies of the program's own python tool modules, so it runs wherever
it is moved; the manifest's source path is information only. Folders are written under a temporary name and renamed into place, so
a build on disk is always complete or absent, even when two runs race for it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import BuildError, OutputError, UsageError

MANIFEST_FORMAT = 1
COMPILER = f"namel3ss {__version__}"

MAIN_PY = '''"""Run this build: python BUILD_DIR --chain NAME --input JSON (see --help)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from n3core.runtime.entry import run_program  # noqa: E402

sys.exit(run_program("program", sys.argv[1:]))
'''


@dataclass(frozen=True)
class Build:
    path: Path
    manifest: dict


def compile_file(source: Path):
    """Parse and check `source`; return (program, warnings and notes) or raise BuildError."""
    from .frontend import check_file

    program, diagnostics = check_file(str(source))
    errors = [d for d in diagnostics if d.severity == "error"]
    if program is None or errors:
        raise BuildError(diagnostics)
    return program, diagnostics


def build(
    source: str | os.PathLike, out_dir: str | os.PathLike, *, instrument: bool = False,
    profile: str | None = None, filters=(), user_modules=(), replace: bool = True,
) -> Build:
    """Compile `source` into `out_dir`, replacing an earlier build there unless `replace` is off."""
    source = Path(source).resolve()
    program, _ = compile_file(source)
    from .lowering import lower

    from .tool_modules import digests, tool_modules

    modules = tool_modules(program, source.parent)
    files = {"program.py": lower(program), "__main__.py": MAIN_PY, **modules}
    manifest = _manifest(program, source, instrument=instrument)
    if modules:
        manifest["modules"] = digests(modules)
    if instrument:
        from .instrument import instrument_program

        extra, info = instrument_program(program, files["program.py"], MAIN_PY, profile, filters, user_modules)
        files.update(extra)
        manifest.update(info)
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    out = Path(out_dir)
    _write_atomically(out, files, replace=replace)
    return Build(out, manifest)


def cached_build(source: str | os.PathLike, *, instrument: bool = False, filters=(), cache_dir=None) -> Build:
    """Return a build of `source`, compiling only when no build of this exact content exists."""
    source = Path(source).resolve()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    key = hashlib.sha256(
        b"\0".join([data, COMPILER.encode(), _toolchain_fingerprint(instrument).encode(),
                    str(source).encode(),
                    b"instrument:" + ",".join(filters).encode() if instrument else b"plain"])
    ).hexdigest()[:20]
    root = Path(cache_dir or os.environ.get("NAMEL3SS_CACHE_DIR") or source.parent / ".namel3ss" / "builds")
    out = root / key
    manifest_path = out / "manifest.json"
    stale = False
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
            if _copies_current(manifest, source.parent):
                return Build(out, manifest)
            stale = True
        except (OSError, ValueError, AttributeError):
            pass  # a damaged cache entry is rebuilt, never fatal
    return build(source, out, instrument=instrument, filters=filters, replace=stale)


def _copies_current(manifest: dict, folder: Path) -> bool:
    """Whether the tool modules a cached build carries still match the source folder's."""
    for name, digest in (manifest.get("modules") or {}).items():
        try:
            if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
                return False
        except OSError:
            return False
    return True


def _toolchain_fingerprint(instrument: bool) -> str:
    """A hash of the compiler's own sources (and, for instrumented builds, the runtime and
    profiles it copies), so a changed toolchain never reuses a stale cached build."""
    import n3core.runtime

    roots = [Path(__file__).parent] + ([Path(n3core.runtime.__file__).parent] if instrument else [])
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".lark", ".toml") and "__pycache__" not in path.parts:
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _manifest(program, source: Path, *, instrument: bool) -> dict:
    return {
        "format": MANIFEST_FORMAT,
        "compiler": COMPILER,
        "source": source.name,
        "source_path": str(source),
        "source_sha256": hashlib.sha256(program.source.encode()).hexdigest(),
        "flags": {"instrument": instrument},
        "profile": None,
        "sites_sha256": None,
        "entries": {
            kind + "s": [d.name for d in program.of_kind(kind)] for kind in ("chain", "agent", "prompt")
        },
    }


def _write_atomically(out: Path, files: dict[str, str], *, replace: bool) -> None:
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UsageError(
            f"{out} exists and is not a namel3ss build; choose an empty or new folder for -o"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise OutputError(f"-o {out}: cannot create the build folder there "
                          f"({exc.strerror or exc}). Choose a folder you can write to.") from None
    try:
        for name, text in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                target.write_bytes(text)
            else:
                target.write_text(text, encoding="utf-8")
        tmp.chmod(0o755)
        if out.exists() and replace:
            shutil.rmtree(out)
        try:
            os.replace(tmp, out)
        except OSError:
            if replace or not (out / "manifest.json").is_file():
                raise
            shutil.rmtree(tmp)  # another process built the same content first
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"-o {out}: cannot write the build ({exc.strerror or exc}). Free "
                          "some space or choose a folder you can write to.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
