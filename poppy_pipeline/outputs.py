"""Print what the pipeline wrote and where: `python -m poppy_pipeline.outputs`."""

from __future__ import annotations

from pathlib import Path

from poppy_pipeline.paths import data_dir


def describe_outputs(base: Path) -> list[str]:
    """One line per artifact: files directly in `base`, and folders with their file count."""
    if not base.is_dir():
        return [f"No outputs yet in {base}"]
    lines = [f"Outputs in {base.resolve()}:"]
    for entry in sorted(base.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
            span = f" ({files[0].name} .. {files[-1].name})" if files else ""
            lines.append(f"  {entry.name}/  {len(files)} files{span}")
        else:
            lines.append(f"  {entry.name}  {entry.stat().st_size:,} bytes")
    return lines


def main() -> None:
    print("\n".join(describe_outputs(data_dir())))


if __name__ == "__main__":
    main()
