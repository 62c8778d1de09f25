"""Regeneration benchmark: one clause change affecting most of a workspace, `regenerate` vs. the naive approach.

Setup (timed separately, not compared): a workspace of N agreements made from the bundled US+EU examples
with varied answers; a quarter of them are EU-only. All are built as v1. Then the US-only clause
`field_alert_reports` gets a new version with reworded text, which affects exactly the agreements with a US
market (3N/4: 150 of 200).

Timed, in the same run:
- qa-builder: `qa-builder regenerate W --jobs J` in a child process: impact analysis of all N, then each
  affected agreement rebuilt as v2 (DOCX, PDF/A with signature fields, model, build record) with a redline,
  and the batch summary. Peak memory is the largest summed RSS of its process tree (Python + LibreOffice).
- naive: for each affected agreement, docxtpl render then one `soffice --headless --convert-to pdf` process
  (no impact analysis, no redline, no TOC update, no PDF/A, no fields).
- floor: a warm LibreOffice pool of J workers converting the same v2 DOCX files and nothing else.

With --memory-n M, the qa-builder run is repeated on a workspace of M agreements to show whether peak
memory stays flat as the workspace grows.

Usage: python benchmarks/bench_regenerate.py [--n 200] [--jobs 2] [--memory-n 1000] [--skip-naive]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_build import ROOT, TreeMemory, run_floor, run_naive

SOURCES = [ROOT / "examples" / "us-eu-drug-product-cmo.yaml", ROOT / "examples" / "us-eu-biologic-cdmo.yaml"]
CLAUSE_FILE = "deviations.yaml"
CLAUSE_ID = "field_alert_reports"


def make_workspace(root: Path, n: int, jobs: int) -> tuple[Path, float]:
    """A workspace of N built agreements; returns it and the setup time."""
    from qa_builder.regenerate import build_new
    from qa_builder.workspace.layout import add_agreement, init_workspace

    start = time.perf_counter()
    workspace = init_workspace(root)
    incoming = root.parent / f"{root.name}-answers"
    incoming.mkdir()
    bases = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in SOURCES]
    for i in range(n):
        data = json.loads(json.dumps(bases[i % len(bases)], default=str))
        data["agreement"]["id"] = f"QA-REGEN-{i:04d}"
        data["agreement"]["title"] = f"{data['agreement']['title']} (portfolio item {i})"
        data["products"][0]["name"] = f"Portfolium {5 + i} mg"
        if i % 4 == 3:
            for product in data["products"]:
                product["markets"] = ["EU"]
        path = incoming / f"{i:04d}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        add_agreement(workspace, path)
    _built, failed = build_new(workspace, jobs=jobs)
    if failed:
        raise SystemExit(f"setup build failed: {next(iter(failed.values()))}")
    return root, time.perf_counter() - start


def change_clause(root: Path) -> int:
    """A new version of the US field-alert clause with reworded text; returns the version it replaced."""
    path = root / "clause_library" / "clauses" / CLAUSE_FILE
    text = path.read_text(encoding="utf-8")
    start = text.index(f"- id: {CLAUSE_ID}")
    end = text.find("\n  - id:", start + 1)
    block = text[start:end if end != -1 else len(text)]
    found = re.search(r"\n    version: (\d+)\n", block)
    if found is None or "shall" not in block:
        raise SystemExit("the benchmark clause has no version or no 'shall'; update bench_regenerate.py")
    version = int(found.group(1))
    changed = block.replace(found.group(0), f"\n    version: {version + 1}\n", 1).replace("shall", "must", 1)
    path.write_text(text.replace(block, changed), encoding="utf-8")
    return version


def run_regenerate(root: Path, jobs: int) -> dict[str, Any]:
    """`qa-builder regenerate` in a child process: wall time and peak memory of the process tree."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "qa_builder", "regenerate", str(root), "--jobs", str(jobs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(process.pid) as memory:
        out, err = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"regenerate failed (exit {process.returncode}): {err[-800:]}")
    regenerated = sum(1 for line in out.splitlines() if line.startswith("regenerated "))
    return {"wall": wall, "peak": memory.peak, "regenerated": regenerated}


def affected_answers(root: Path) -> list[Path]:
    return sorted(p.parent / "answers.yaml" for p in (root / "agreements").glob("*/v2"))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="agreements in the workspace (default 200)")
    parser.add_argument("--jobs", type=int, default=2, help="regenerate --jobs (default 2)")
    parser.add_argument("--memory-n", type=int, default=0, help="also measure peak memory with this many")
    parser.add_argument("--skip-naive", action="store_true", help="only measure qa-builder and the floor")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-regen-"))
    try:
        root, setup = make_workspace(work / "workspace", args.n, args.jobs)
        old = change_clause(root)
        print(f"machine: {os.cpu_count()} cores; workspace of {args.n} agreements built in {setup:.0f} s; "
              f"clause {CLAUSE_ID} v{old} → v{old + 1}; load average {os.getloadavg()[0]:.1f}")
        ours = run_regenerate(root, args.jobs)
        count = ours["regenerated"]
        print(f"qa-builder regenerate --jobs {args.jobs}: {count} of {args.n} regenerated in {ours['wall']:.1f} s "
              f"({ours['wall'] / max(count, 1):.2f} s each), peak memory {ours['peak'] / 2**20:.0f} MiB; "
              f"load average {os.getloadavg()[0]:.1f}")
        docx = work / "v2-docx"
        docx.mkdir()
        for path in (root / "agreements").glob("*/v2/*_v2.docx"):
            shutil.copy2(path, docx / path.name)
        (work / "floor").mkdir()
        floor = run_floor(docx, work / "floor", args.jobs)
        print(f"floor (warm pool converting the same {count} DOCX files): {floor:.1f} s; "
              f"qa-builder takes {ours['wall'] / floor:.2f}× the floor")
        if not args.skip_naive:
            (work / "naive").mkdir()
            naive = run_naive(affected_answers(root), work / "naive", str(root / "clause_library"))
            print(f"naive (docxtpl + one soffice per agreement): {naive['wall']:.1f} s, peak memory "
                  f"{naive['peak'] / 2**20:.0f} MiB; load average {os.getloadavg()[0]:.1f}")
            print(f"ratio naive / qa-builder: {naive['wall'] / ours['wall']:.2f}× (target ≥ 4×); "
                  f"naive / floor: {naive['wall'] / floor:.2f}×")
        if args.memory_n:
            big, _ = make_workspace(work / "workspace-big", args.memory_n, args.jobs)
            change_clause(big)
            large = run_regenerate(big, args.jobs)
            print(f"memory: {args.n} agreements → {ours['peak'] / 2**20:.0f} MiB; {args.memory_n} agreements → "
                  f"{large['peak'] / 2**20:.0f} MiB ({large['peak'] / ours['peak']:.2f}×)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
