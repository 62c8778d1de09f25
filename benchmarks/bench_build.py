"""Build benchmark: N agreements to DOCX + PDF with qa-builder vs. the naive approach, in the same run.

Naive = for each agreement, docxtpl render then one `soffice --headless --convert-to pdf` process.
qa-builder (typst) = the default build: parallel builds, the PDF/A-2b typeset from the Agreement model with
Typst, signature fields added. qa-builder (libreoffice) = `--pdf-engine libreoffice`: parallel builds over a
warm LibreOffice pool (one worker per job), which also updates the table of contents, writes PDF/A-2b and adds
signature fields — more work per document than the naive path.

Peak memory is the largest summed RSS of the benchmark's process tree (Python + LibreOffice), sampled
every 20 ms, measured for N and 2N agreements to show that it stays flat as N grows.

The floor is a warm pool of the same size converting the same DOCX files and nothing else: how close
the LibreOffice path comes to what LibreOffice itself needs. Every line also prints the machine's load average
(1 min) when it was measured, since the machine is shared. Two scenarios: the
bundled example (a ~38-page agreement; the default) and short agreements (the test suite's mini library,
~5 pages), because the ratio depends on document length: the naive path pays ~1.3 s of start-up per
document whatever its size.

Usage: python benchmarks/bench_build.py [--n 20] [--jobs 2] [--scenario example|short|both] [--skip-naive]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "us-eu-drug-product-cmo.yaml"
SCENARIOS = {
    "example": (EXAMPLE, ""),
    "short": (ROOT / "tests" / "fixtures" / "answers" / "minimal.yaml",
              str(ROOT / "tests" / "fixtures" / "mini_library")),
}
RELEASE_MODELS = ["qp_certification", "cmo_release_with_sponsor_secondary", "sponsor_release"]


def make_answers(folder: Path, n: int, source: Path = EXAMPLE) -> list[Path]:
    """N variations of an answers file: ids, names, markets, release model and clocks differ."""
    base = yaml.safe_load(source.read_text(encoding="utf-8"))
    paths = []
    for i in range(n):
        data = json.loads(json.dumps(base, default=str))
        data["agreement"]["id"] = f"QA-BENCH-{i:04d}"
        data["agreement"]["title"] = f"{data['agreement']['title']} (variant {i})"
        data["sponsor"]["name"] = f"{data['sponsor']['name']} {i}"
        data.pop("positions", None) if source != EXAMPLE else None
        data["products"][0]["name"] = f"Benchmarkol {5 + i} mg tablets"
        if i % 3 == 2:
            data["products"][0]["markets"] = ["US"]
            data["release_model"] = RELEASE_MODELS[(i // 3) % 2 + 1]
        data.setdefault("inspections", {})["notify_within_hours"] = 12 + (i % 3) * 6
        path = folder / f"answers-{i:04d}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(self.pid))
            time.sleep(0.02)


def _tree_rss(root: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_ours(answers: list[Path], out: Path, jobs: int, library: str, engine: str = "libreoffice") -> dict[str, Any]:
    """Run qa-builder's batch build in a child process; return its timings and the tree's peak RSS.

    With engine "typst" the PDF is typeset from the Agreement model by `jobs` Typst processes; the child also
    reports the CPU time of its build threads ('python_cpu', s per document: all of qa-builder's Python work, the
    document data sent to Typst included) and of the Typst processes ('typeset_cpu', s per document).
    """
    # Same order as `qa-builder build`: start the PDF engine, then import and load the rest.
    code = (
        "import json,resource,sys,time;from pathlib import Path\nt=time.perf_counter()\n"
        "engine=sys.argv[3];jobs=int(sys.argv[2].split(',')[0])\n"
        "if engine=='typst':\n"
        "  from qa_builder.render.typeset import PdfTypesetter\n"
        "  pool=PdfTypesetter(workers=jobs)\n"
        "else:\n"
        "  from qa_builder.render.pdf import PdfConverter\n"
        "  pool=PdfConverter(workers=jobs)\n"
        "pool.start()\n"
        "import qa_builder.builds.batch as batch\nfrom qa_builder.library.loader import load_library\n"
        "from qa_builder.builds.pipeline import BuildSettings\n"
        "from qa_builder.render.docx import default_template_path\n"
        "build_cpu=[0.0];one=batch.build_one\n"
        "def timed_one(*a):\n"
        "  c=time.thread_time()\n"
        "  try: return one(*a)\n"
        "  finally: build_cpu[0]+=time.thread_time()-c\n"
        "batch.build_one=timed_one\n"
        "paths=[Path(p) for p in sys.argv[4:]]\n"
        "lib=load_library(Path(sys.argv[2].split(',')[1])) if ',' in sys.argv[2] else load_library()\n"
        "s=BuildSettings(out_dir=Path(sys.argv[1]),library=lib,template=default_template_path(),pdf_engine=engine)\n"
        "items=batch.build_many(paths,s,jobs=jobs,converter=pool);pool.close()\n"
        "bad=[i.error for i in items if i.error];assert not bad,bad\n"
        "kids=resource.getrusage(resource.RUSAGE_CHILDREN);n=len(paths)\n"
        "print(json.dumps({'total':time.perf_counter()-t,'stages':[i.result.timings for i in items],"
        "'python_cpu':build_cpu[0]/n,'typeset_cpu':(kids.ru_utime+kids.ru_stime)/n}))\n"
    )
    spec = f"{jobs},{library}" if library else str(jobs)
    return _run_child(f"qa-builder build ({engine})", code, [str(out), spec, engine, *map(str, answers)])


def _run_child(label: str, code: str, args: list[str]) -> dict[str, Any]:
    """Run Python `code` in a child process; return its JSON report with wall time and the tree's peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    with TreeMemory(process.pid) as memory:
        stdout, _ = process.communicate()
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{label} failed (exit {process.returncode})")
    return {"wall": wall, "peak": memory.peak, **json.loads(stdout)}


def run_floor(docx_folder: Path, out: Path, jobs: int) -> float:
    """Wall time for a warm pool of `jobs` workers to convert the given DOCX files, start-up included."""
    code = (
        "import sys;from pathlib import Path;from concurrent.futures import ThreadPoolExecutor\n"
        "from qa_builder.render.pdf import PdfConverter\n"
        "files=sorted(Path(sys.argv[1]).glob('*.docx'));out=Path(sys.argv[2]);jobs=int(sys.argv[3])\n"
        "with PdfConverter(workers=jobs) as c, ThreadPoolExecutor(jobs) as ex:\n"
        "  list(ex.map(lambda f: c.convert(f, out/(f.stem+'.pdf')), files))\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(docx_folder), str(out), str(jobs)], check=True)
    return time.perf_counter() - start


def run_naive(answers: list[Path], out: Path, library: str) -> dict[str, Any]:
    """docxtpl render + one soffice process per document, sequentially."""
    code = (
        "import sys,time,subprocess,json;from pathlib import Path\nfrom docxtpl import DocxTemplate\n"
        "from qa_builder.answers.load import load_answers\nfrom qa_builder.library.loader import load_library\n"
        "from qa_builder.builds.pipeline import prepare_agreement\n"
        "from qa_builder.render.docx import default_template_path\n"
        "out=Path(sys.argv[1]);profile=Path(sys.argv[2].split(',')[0])\n"
        "lib=load_library(Path(sys.argv[2].split(',')[1])) if ',' in sys.argv[2] else load_library()\n"
        "tpl=default_template_path()\n"
        "render=convert=0.0\n"
        "for p in sys.argv[3:]:\n"
        "  t=time.perf_counter();a=prepare_agreement(load_answers(Path(p)),lib)\n"
        "  d=DocxTemplate(str(tpl));d.render({'agreement':a},autoescape=True)\n"
        "  docx=out/(a.id+'.docx');d.save(str(docx))\n"
        "  t2=time.perf_counter();render+=t2-t\n"
        "  subprocess.run(['soffice','--headless','-env:UserInstallation='+profile.as_uri(),'--convert-to','pdf',"
        "'--outdir',str(out),str(docx)],check=True,capture_output=True)\n"
        "  convert+=time.perf_counter()-t2\n"
        "print(json.dumps({'render':render,'convert':convert}))\n"
    )
    profile = Path(tempfile.mkdtemp(prefix="bench-naive-profile-"))
    spec = f"{profile},{library}" if library else str(profile)
    try:
        return _run_child("naive build", code, [str(out), spec, *map(str, answers)])
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="agreements to build (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="qa-builder parallel jobs (default 2)")
    parser.add_argument("--scenario", choices=["example", "short", "both"], default="both")
    parser.add_argument("--skip-naive", action="store_true", help="only measure qa-builder")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; N = {args.n}; qa-builder --jobs {args.jobs}")
    for scenario in (["example", "short"] if args.scenario == "both" else [args.scenario]):
        work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
        try:
            bench_scenario(scenario, work, args.n, args.jobs, args.skip_naive)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def bench_scenario(scenario: str, work: Path, n: int, jobs: int, skip_naive: bool) -> None:
    """Measure one scenario and print its lines."""
    source, library = SCENARIOS[scenario]
    answers = make_answers(work, 2 * n, source)
    load = {}
    ours = run_ours(answers[:n], _fresh(work / "ours"), jobs, library)
    load["ours"] = _load()
    pages = _pages(next((work / "ours").glob("*.pdf")))
    print(f"\n== scenario '{scenario}': variations of {source.name}, {pages} pages each ==")
    ours_2n = run_ours(answers, _fresh(work / "ours-2n"), jobs, library)
    load["ours_2n"] = _load()
    floor = run_floor(work / "ours", _fresh(work / "floor"), jobs)
    load["floor"] = _load()
    typst = run_ours(answers[:n], _fresh(work / "typst"), jobs, library, engine="typst")
    load["typst"] = _load()
    typst_2n = run_ours(answers, _fresh(work / "typst-2n"), jobs, library, engine="typst")
    load["typst_2n"] = _load()
    typst_pages = _pages(next((work / "typst").glob("*.pdf")))
    stages = {k: statistics.mean(t.get(k, 0.0) for t in ours["stages"])
              for k in ("assemble", "docx", "pdf", "fields", "record")}
    print("qa-builder (libreoffice) per-document stage times (mean s; jobs run in parallel): " +
          ", ".join(f"{k} {v:.3f}" for k, v in stages.items()))
    print(f"libreoffice N={n:<4} {ours['wall']:6.1f} s  {n / ours['wall']:5.2f} agreements/s  "
          f"peak memory {ours['peak'] / 2**20:4.0f} MiB  {load['ours']}")
    print(f"libreoffice N={2 * n:<4} {ours_2n['wall']:6.1f} s  {2 * n / ours_2n['wall']:5.2f} agreements/s  "
          f"peak memory {ours_2n['peak'] / 2**20:4.0f} MiB  (memory N→2N: {ours_2n['peak'] / ours['peak']:.2f}×)  "
          f"{load['ours_2n']}")
    print(f"floor       N={n:<4} {floor:6.1f} s  (warm pool converting the same DOCX files only; "
          f"the LibreOffice path takes {ours['wall'] / floor:.2f}× the floor)  {load['floor']}")
    typst_stages = {k: statistics.mean(t.get(k, 0.0) for t in typst["stages"])
                    for k in ("assemble", "docx", "pdf", "fields", "record")}
    print(f"typst       N={n:<4} {typst['wall']:6.1f} s  {n / typst['wall']:5.2f} agreements/s  "
          f"peak memory {typst['peak'] / 2**20:4.0f} MiB  ({typst_pages} pages; the default engine: "
          f"{ours['wall'] / typst['wall']:.2f}× the LibreOffice path, target ≥ 2×)  {load['typst']}")
    print(f"typst       N={2 * n:<4} {typst_2n['wall']:6.1f} s  peak memory {typst_2n['peak'] / 2**20:4.0f} MiB  "
          f"(memory N→2N: {typst_2n['peak'] / typst['peak']:.2f}×)  {load['typst_2n']}")
    print("typst per-document stage times (mean s): " + ", ".join(f"{k} {v:.3f}" for k, v in typst_stages.items()))
    print(f"typst CPU per document: the Typst processes {typst['typeset_cpu']:.3f} s, qa-builder's Python work on "
          f"the build threads {typst['python_cpu']:.3f} s (target ≤ 0.1 s)")
    if not skip_naive:
        naive = run_naive(answers[:n], _fresh(work / "naive"), library)
        print(f"naive       N={n:<4} {naive['wall']:6.1f} s  {n / naive['wall']:5.2f} agreements/s  "
              f"peak memory {naive['peak'] / 2**20:4.0f} MiB  (render {naive['render']:.1f} s, "
              f"soffice {naive['convert']:.1f} s)  {_load()}")
        print(f"throughput ratio qa-builder (typst, default) / naive: {naive['wall'] / typst['wall']:.1f}× "
              f"(target ≥ 5×)   qa-builder (libreoffice) / naive: {naive['wall'] / ours['wall']:.1f}×   "
              f"floor / naive: {naive['wall'] / floor:.1f}×")


def _load() -> str:
    """The 1-minute load average now, for the figure printed with it (the machine is shared)."""
    return f"[load {os.getloadavg()[0]:.2f}]"


def _pages(pdf: Path) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        return len(document)
    finally:
        document.close()


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


if __name__ == "__main__":
    main()
