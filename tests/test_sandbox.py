"""The sandbox of clause texts, conditions and templates: no code, no mutation, bounded (issue 12, critical)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from qa_builder.answers.load import load_answers
from qa_builder.errors import LibraryError, TemplateError
from qa_builder.library.context import build_context, context_names
from qa_builder.library.loader import load_library
from qa_builder.models.agreement import Agreement
from qa_builder.render.docx import load_template
from qa_builder.sandbox.environment import (
    QASandbox,
    RenderLimits,
    TemplateProblem,
    compile_condition,
    compile_text,
    evaluate_condition,
    render_text,
)
from qa_builder.sandbox.names import check_names
from tests.conftest import MINI_LIBRARY, MINIMAL_ANSWERS, ROOT, answers_data, write_answers

PICKLE = "cposix\\nsystem\\n(S'touch proof.txt'\\ntR."
ISSUE_PAYLOAD = ("{% set s = sponsor %}{% set x = s.parse_raw(\"" + PICKLE
                 + "\", proto=\"pickle\", allow_pickle=True) %}Text.")

# Texts (clause text, position, timeline deadline, DOCX template) that must be refused before rendering.
TEXT_VECTORS = [
    ISSUE_PAYLOAD,
    "{{ [sponsor][0].parse_raw('x') }}",
    "{{ (sponsor).copy() }}",
    "{{ sponsor.model_copy() }}",
    "{{ sponsor.model_dump() }}",
    "{{ sponsor.json() }}",
    "{{ signatories.clear() }}",
    "{{ signatories.append(1) }}",
    "{{ positions.update({}) }}",
    "{{ positions.setdefault('a', 'b') }}",
    "{% for x in products %}{{ x.bad }}{% endfor %}",
    "{% for x in products %}{{ x.parse_file('/etc/passwd') }}{% endfor %}",
    "{% with s = sponsor %}{{ s.parse_raw('x') }}{% endwith %}",
    "{% set t = [sponsor, sponsor] %}{{ t[1].copy() }}",
    "{% if true %}{% set s = sponsor %}{% endif %}{{ s.dict() }}",
    "{{ sponsor['parse_raw'] }}",
    "{{ sponsor | attr('parse_raw') }}",
    "{{ sponsor.name | safe }}",
    "{{ sponsor.name.__class__ }}",
    "{{ range(10) | length }}",
    "{{ lipsum() }}",
    "{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}",
    "{% for x in products recursive %}{{ loop(x) }}{% endfor %}",
    "{% set a %}x{% endset %}",
    "{{ 'a' * 3000000000 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ 9 ** 999999999 }}",
    "{{ loop.cycle('a') }}",
    "{{ sponsor.name.format(1) }}",
    "{% if sponsor is callable %}x{% endif %}",
    "{{ products | map('attr', 'parse_raw') | join }}",
    "{{ products | map(attribute='parse_raw') | join }}",
    "{{ products | selectattr('name') | list }}",
    "{% set ns = namespace(a=1) %}{% set ns.a = sponsor %}",
    "{{ sponsor.name[0].__class__ }}",
    "{{ sponsor }}",
]
# The same attacks as bare conditions (applies_when, position_from, timeline applies_when).
CONDITION_VECTORS = [
    "sponsor.parse_raw('x')",
    "[sponsor][0].copy()",
    "(sponsor).model_copy()",
    "signatories.clear()",
    "signatories.pop()",
    "products[0].parse_file('/etc/passwd')",
    "sponsor | attr('copy')",
    "'a' * 3000000000",
    "facts.markets.append('EU')",
]


@pytest.fixture()
def lib(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    shutil.copytree(MINI_LIBRARY, target)
    return target


def _yaml_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _add_clause(lib: Path, *, text: str = "Text.", applies_when: str = "true", deadline: str | None = None,
                position_from: str | None = None) -> Path:
    lines = ["clauses:", "  - id: zz_demo", "    title: Harmless looking clause", "    section: general",
             "    order: 999", "    version: 1", "    status: approved", "    effective_date: 2026-01-01",
             f"    applies_when: {_yaml_string(applies_when)}", "    references: []"]
    if position_from is not None:
        lines += [f"    position_from: {_yaml_string(position_from)}", "    positions:",
                  "      a: A.", "      b: B."]
    else:
        lines.append(f"    text: {_yaml_string(text)}")
    if deadline is not None:
        lines += ["    timelines:", "      - event: Something happens", f"        deadline: {_yaml_string(deadline)}"]
    path = lib / "clauses" / "zz_demo.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _problems(lib: Path) -> str:
    with pytest.raises(LibraryError) as info:
        load_library(lib)
    return str(info.value)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa_builder", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def _context(tmp_path: Path) -> dict[str, Any]:
    answers = load_answers(write_answers(tmp_path, answers_data())).answers
    return build_context(answers)


# --- library check refuses every vector, wherever it stands -------------------------------------------------


@pytest.mark.parametrize("text", TEXT_VECTORS)
def test_library_check_refuses_text(lib: Path, text: str) -> None:
    _add_clause(lib, text=text)
    message = _problems(lib)
    assert "zz_demo.yaml line 11: clause 'zz_demo': text " in message, message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize("text", TEXT_VECTORS)
def test_library_check_refuses_timeline_deadline(lib: Path, text: str) -> None:
    _add_clause(lib, deadline=text)
    message = _problems(lib)
    assert "clause 'zz_demo': timelines[0].deadline " in message, message


@pytest.mark.parametrize("condition", CONDITION_VECTORS)
def test_library_check_refuses_condition(lib: Path, condition: str) -> None:
    _add_clause(lib, applies_when=condition)
    message = _problems(lib)
    assert "clause 'zz_demo': applies_when " in message, message


@pytest.mark.parametrize("condition", CONDITION_VECTORS)
@pytest.mark.parametrize("file", ["raci.yaml", "requirements.yaml"])
def test_library_check_refuses_raci_and_requirement_conditions(lib: Path, file: str, condition: str) -> None:
    path = lib / file
    text = path.read_text(encoding="utf-8")
    marker = "applies_when: "
    start = text.index(marker) + len(marker)
    end = text.index("\n", start)
    value = text[start:end].rstrip("}").rstrip()
    closing = text[start + len(value):end]
    path.write_text(text[:start] + '"' + condition.replace('"', "'") + '"' + closing + text[end:], encoding="utf-8")
    message = _problems(lib)
    assert f"{file}:" in message and "applies_when " in message, message


@pytest.mark.parametrize("condition", CONDITION_VECTORS)
def test_library_check_refuses_position_from(lib: Path, condition: str) -> None:
    _add_clause(lib, position_from=condition)
    message = _problems(lib)
    assert "clause 'zz_demo': position_from " in message, message


def test_refusals_name_the_alias_and_line() -> None:
    known = context_names()
    with pytest.raises(TemplateProblem, match=r"calls s.parse_raw\(\), but s is a Sponsor: only its fields may be "
                                              r"used \(text line 2\)"):
        check_names("{% set s = sponsor %}\n{{ s.parse_raw('x') }}", known)
    with pytest.raises(TemplateProblem, match=r"uses x.bad, but x has no field 'bad' \(text line 1\)"):
        check_names("{% for x in products %}{{ x.bad }}{% endfor %}", known)
    with pytest.raises(TemplateProblem, match=r"calls signatories\.clear\(\)"):
        check_names("{{ signatories.clear() }}", known)
    with pytest.raises(TemplateProblem, match="prints sponsor, a Sponsor, as it is"):
        check_names("{{ sponsor }}", known)
    with pytest.raises(TemplateProblem, match="prints products, a list, as it is"):
        check_names("{{ products }}", known)
    with pytest.raises(TemplateProblem, match="filter 'attr' is not allowed"):
        check_names("{{ sponsor | attr('copy') }}", known)


@pytest.mark.parametrize("text", [
    "{{ sponsor" + ".name" * 20000 + " }}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{% if true %}" * 3000 + "{% endif %}" * 3000,
])
def test_deep_nesting_is_one_problem_not_a_crash(text: str) -> None:
    # 3,000 nested ifs are 6,000 tags: refused by the tag bound before the parser nests them (session 5)
    with pytest.raises(TemplateProblem, match=r"nested too deeply|'\{\{' and '\{%' tags"):
        check_names(text, context_names())
    with pytest.raises(TemplateProblem, match=r"nested too deeply|'\{\{' and '\{%' tags"):
        compile_text(text)


def test_allowed_uses_pass_the_check() -> None:
    known = context_names()
    for text in (
        "{% for scheme, number in contract_acceptor.sites[0].registration_numbers.items() %}{{ scheme }} "
        "{{ number }}{{ '; ' if not loop.last else '' }}{% endfor %}",
        "{{ agreement.effective_date.strftime('%B %Y') }} {{ agreement.effective_date.day }}",
        "{{ services | map('replace', '_', ' ') | join_and }} {{ products | length }}",
        "{% set s = sponsor %}{{ s.quality_contact.name | upper }}",
        "{% for p in products %}{{ p.markets | join(', ') }}{% endfor %}{{ facts.markets | join_and }}",
        "{% if 'EU' in facts.markets %}EU{% endif %}{{ products | map(attribute='name') | join(', ') }}",
    ):
        check_names(text, known)


# --- at render time the data is frozen fields, whatever reaches the renderer -----------------------------


def _render(text: str, context: dict[str, Any]) -> str:
    # compile directly (no library check) to prove the renderer holds on its own
    return render_text(compile_text(text), context)


def test_issue_pickle_payload_does_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    answers = load_answers(write_answers(tmp_path, answers_data())).answers
    raw = {name: getattr(answers, name) for name in type(answers).model_fields}  # the pydantic models themselves
    payload = "{% set s = sponsor %}{{ s.parse_raw(\"cposix\\nsystem\\n(S'touch proof.txt'\\ntR.\", " \
              "proto='pickle', allow_pickle=True) }}"
    with pytest.raises(TemplateProblem, match="call"):
        render_text(compile_text(payload.replace("{{ s.", "{{ (s).")), raw)
    with pytest.raises(TemplateProblem):
        evaluate_condition(compile_condition("sponsor.parse_raw('x')"), raw)
    assert not (tmp_path / "proof.txt").exists()


def test_mutating_methods_cannot_change_the_answers(tmp_path: Path) -> None:
    answers = load_answers(write_answers(tmp_path, answers_data())).answers
    raw = {name: getattr(answers, name) for name in type(answers).model_fields}
    for text in ("{{ signatories.clear() }}", "{{ signatories.pop() }}", "{{ signatories.append(1) }}",
                 "{{ positions.update({'a': 'b'}) }}", "{{ products[0].markets.clear() }}"):
        with pytest.raises(TemplateProblem, match=r"stopped by the sandbox|not a method"):
            _render(text, raw)
    assert len(answers.signatories) == 2
    assert answers.products[0].markets


def test_context_is_frozen_and_exposes_fields_only(tmp_path: Path) -> None:
    context = _context(tmp_path)
    assert isinstance(context["signatories"], tuple)
    with pytest.raises(AttributeError):
        context["sponsor"].parse_raw  # noqa: B018 - the attribute must not exist
    with pytest.raises(AttributeError):
        context["sponsor"].name = "changed"
    for text in ("{{ sponsor.copy }}", "{{ sponsor.parse_raw }}", "{{ sponsor['model_dump'] }}",
                 "{{ sponsor.items() }}", "{{ signatories.values() }}", "{{ facts.markets.index }}",
                 "{{ agreement.effective_date.replace }}", "{{ sponsor.name.strftime('%Y') }}",
                 "{% for s in signatories %}{{ loop.cycle }}{% endfor %}"):
        with pytest.raises(TemplateProblem, match="stopped by the sandbox"):
            _render(text, context)


def test_allowed_read_only_uses_render(tmp_path: Path) -> None:
    context = _context(tmp_path)
    text = ("{{ agreement.effective_date.strftime('%Y') }}|{{ products | map(attribute='name') | join(', ') }}|"
            "{% for s in signatories %}{{ s.name }}{{ ', ' if not loop.last }}{% endfor %}|"
            "{{ services | map('replace', '_', ' ') | join_and }}|{{ products | length }}|"
            "{% for k, v in positions.items() %}{{ k }}{% endfor %}")
    rendered = _render(text, context)
    assert rendered.startswith("2026|") and "Anna Müller, 山田太郎" in rendered


# --- bounded: time, loop steps, output and every way to grow a value ------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("{% for a in sponsor.name * 100 %}{% for b in sponsor.name * 100 %}{% for c in sponsor.name * 100 %}"
     "{% endfor %}{% endfor %}{% endfor %}", "loops ran past 100,000 steps"),
    ("{% set s = 'x' * 999 %}{% for a in s %}{{ s * 1000 }}{% endfor %}", "output grew past"),
    ("{% set a = sponsor.name %}" + "{% set a = a ~ a %}" * 40 + "{{ a | length }}", "longer than 1,000,000"),
    ("{% set a = sponsor.name %}" + "{% set a = a | replace('', a) %}" * 10, "longer than 1,000,000"),
    ("{% set a = sponsor.name %}" + "{% set a = a + a %}" * 40, "longer than"),
    ("{% set b = 'abcdefghij' * 90000 %}{{ b | join(b) }}", "longer than"),
    ("{% set b = 'abcdefghij' * 60000 %}{{ signatories | map(attribute='name') | join(b) | join(b) }}",
     "longer than"),
    ("{% set n = agreement.version + 9 %}" + "{% set n = n * n %}" * 40, "more than 256 bits"),
    ("{{ (agreement.version + 9) ** 999999999 }}", "more than 256 bits"),
    ("{{ sponsor.name * 3000000000 }}", "longer than"),
    # the final attack round: map over a long text made a million items of up to a million characters each
    ('{% set a = "x" * 999999 %}{{ a | map("replace", "x", a) | join | length }}', "past"),
    ('{% set a = "&" * 999999 %}{% set b = a|escape %}{{ b | map("escape") | map("escape") | join(",") | length }}',
     "longer than"),
    ('{% set a = "&" * 400000 %}{{ a | escape | escape | length }}', "longer than"),
])
def test_render_is_bounded(tmp_path: Path, text: str, expected: str) -> None:
    context = _context(tmp_path)
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match=expected):
        _render(text, context)
    assert time.monotonic() - started < 5


def test_render_has_a_deadline(tmp_path: Path) -> None:
    env = QASandbox(autoescape=False, limits=RenderLimits(max_output=10**9, max_steps=10**12, max_seconds=0.2))
    template = env.from_string("{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    with pytest.raises(Exception, match=r"ran longer than 0.2 s"):
        template.render(s="x" * 1000)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("text", ['{{ ("1e999"|float) | int }}', '{{ ("1e999"|float) ~ sponsor.name }}',
                                  '{{ ("nan"|float) + agreement.version }}', '{{ "-inf" | float }}'])
def test_infinite_and_nan_floats_are_a_clause_problem_not_an_internal_error(tmp_path: Path, text: str) -> None:
    """'1e999'|float was folded into the compiled text as the name `inf` (NameError: an internal error)."""
    with pytest.raises(TemplateProblem, match="not a finite number"):
        _render(text, _context(tmp_path))
    with pytest.raises(TemplateProblem, match="not a finite number"):
        evaluate_condition(compile_condition('("1e999"|float) | int > 0'), _context(tmp_path))


def test_constant_folding_cannot_exhaust_memory() -> None:
    started = time.monotonic()
    for source in ("'a' * 3000000000", "'%0999999999d' % 1", "9 ** 999999999"):
        with pytest.raises(TemplateProblem, match="is refused"):
            compile_condition(source)
        with pytest.raises(TemplateProblem, match="is refused"):
            compile_text("{{ " + source + " }}")
    # not constant at the top, so nothing is folded: it compiles, and stops when it runs
    with pytest.raises(TemplateProblem, match="longer than"):
        evaluate_condition(compile_condition("('a' ~ 'b') * 3000000000"), {})
    assert time.monotonic() - started < 2


# --- the CLI: one line, exit 2, nothing run ---------------------------------------------------------------


def test_cli_library_check_refuses_issue_payload(lib: Path, tmp_path: Path) -> None:
    _add_clause(lib, text=ISSUE_PAYLOAD)
    result = _cli("library", "check", "--library", str(lib), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "clause 'zz_demo': text calls s.parse_raw()" in lines[0], result.stderr
    assert not (tmp_path / "proof.txt").exists()


def test_cli_library_check_survives_constant_folding(lib: Path, tmp_path: Path) -> None:
    _add_clause(lib, applies_when="'a' * 3000000000")
    started = time.monotonic()
    result = _cli("library", "check", "--library", str(lib), cwd=tmp_path)
    assert result.returncode == 2 and "clause 'zz_demo': applies_when" in result.stderr, result.stderr
    assert time.monotonic() - started < 30


def test_cli_build_stops_a_hanging_clause_with_one_line(lib: Path, tmp_path: Path) -> None:
    _add_clause(lib, text="{% set s = sponsor.name * 50 %}{% for a in s %}{% for b in s %}{% for c in s %}"
                          "{% endfor %}{% endfor %}{% endfor %}Text.")
    out = tmp_path / "out"
    result = _cli("build", str(MINIMAL_ANSWERS), "-o", str(out), "--library", str(lib), "--format", "docx",
                  cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "clauses/zz_demo.yaml line 2: clause 'zz_demo' text was stopped: its loops ran past 100,000 steps" \
        in result.stderr, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert not list(out.glob("*.docx")) if out.exists() else True


# --- DOCX templates: the same rules, and no zip or entity bombs ------------------------------------------


def _template(tmp_path: Path, *paragraphs: str, name: str = "t.docx") -> Path:
    path = tmp_path / name
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(str(path))
    return path


@pytest.mark.parametrize("text", [
    "{% set s = agreement %}{{ s.model_copy() }}",
    "{{ [agreement][0].parse_raw('x') }}",
    "{% for s in agreement.sections %}{{ s.copy() }}{% endfor %}",
    "{{ agreement.signatories.clear() }}",
    "{{ agreement | attr('json') }}",
    "{{ agreement.title | safe }}",
    "{{ 'a' * 3000000000 }}",
])
def test_template_preflight_refuses(tmp_path: Path, text: str) -> None:
    with pytest.raises(TemplateError, match="the template"):
        load_template(_template(tmp_path, "Title {{ agreement.title }}", text))


def test_template_core_property_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.docx"
    document = Document()
    document.add_paragraph("{{ agreement.title }}")
    document.core_properties.title = "{{ agreement.model_dump() }}"
    document.save(str(path))
    with pytest.raises(TemplateError, match="document property 'title'"):
        load_template(path)


def _bomb(tmp_path: Path, parts: dict[str, int], name: str = "bomb.docx", *, noise: int = 0) -> Path:
    source = _template(tmp_path, "{{ agreement.title }}", name="base.docx")
    path = tmp_path / name
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        chunk = os.urandom(noise) + b"\0" * ((1 << 20) - noise)
        for part, megabytes in parts.items():
            with zout.open(part, "w", force_zip64=True) as handle:
                for _ in range(megabytes):
                    handle.write(chunk)
    return path


@pytest.mark.parametrize(("parts", "noise", "expected"), [
    ({"word/media/big.bin": 40}, 0, "part word/media/big.bin would inflate to 40 MB"),
    ({f"word/media/p{i}.bin": 30 for i in range(5)}, 20_000, r"would inflate to 15\d MB \(at most 128 MB\)"),
    ({"word/media/dense.bin": 2}, 0, "part word/media/dense.bin inflates 1,0"),
])
def test_template_zip_bomb_is_refused_before_inflating(tmp_path: Path, parts: dict[str, int], noise: int,
                                                       expected: str) -> None:
    path = _bomb(tmp_path, parts, noise=noise)
    started = time.monotonic()
    with pytest.raises(TemplateError, match=expected):
        load_template(path)
    assert time.monotonic() - started < 1


def _with_document_xml(tmp_path: Path, rewrite: Any, part: str = "word/document.xml") -> Path:
    source = _template(tmp_path, "{{ agreement.title }}", name="base.docx")
    path = tmp_path / "entity.docx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, rewrite(data) if info.filename == part else data)
    path.write_bytes(buffer.getvalue())
    return path


LAUGHS = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))


def _laughs(data: bytes) -> bytes:
    head, _, rest = data.partition(b"?>")
    root = rest.lstrip()[1:].split(b" ", 1)[0].split(b">", 1)[0].decode()
    return head + b'?><!DOCTYPE ' + root.encode() + b' [<!ENTITY l0 "lol">' + LAUGHS.encode() + b"]>" + rest


def _utf16_with_dtd(data: bytes) -> bytes:
    return _encoding(_laughs(data), "UTF-16").decode("utf-8").encode("utf-16")


def _encoding(data: bytes, name: str) -> bytes:
    changed = re.sub(rb"""encoding=['"]UTF-8['"]""", b'encoding="' + name.encode() + b'"', data, count=1)
    assert changed != data
    return changed


@pytest.mark.parametrize("part", ["word/document.xml", "word/styles.xml", "[Content_Types].xml",
                                  "_rels/.rels"])
@pytest.mark.parametrize(("rewrite", "expected"), [
    (_laughs, "holds a DTD or entity declaration"),
    (_utf16_with_dtd, "holds a DTD or entity declaration"),
    (lambda d: _encoding(d, "UTF-7"), "declares encoding 'UTF-7'"),
    (lambda d: d.replace(b"?>", b"?>\xff", 1), "is not UTF-8 or UTF-16 XML"),
])
def test_template_entity_bomb_is_refused(tmp_path: Path, part: str, rewrite: Any, expected: str) -> None:
    path = _with_document_xml(tmp_path, rewrite, part)
    started = time.monotonic()
    with pytest.raises(TemplateError, match=re.escape(f"part {part} ") + ".*" + re.escape(expected)) as info:
        load_template(path)
    assert len(str(info.value).splitlines()) == 1
    assert time.monotonic() - started < 1


def test_cli_build_refuses_template_bombs_and_code(tmp_path: Path) -> None:
    for template, expected in (
        (_bomb(tmp_path, {"word/media/big.bin": 40}), "would inflate to 40 MB"),
        (_with_document_xml(tmp_path, _laughs), "holds a DTD or entity declaration"),
        (_template(tmp_path, "{% set s = agreement %}{{ s.parse_raw(\"" + PICKLE + "\", proto='pickle', "
                             "allow_pickle=True) }}", name="evil.docx"), "calls s.parse_raw()"),
    ):
        out = tmp_path / f"out-{template.stem}"
        result = _cli("build", str(MINIMAL_ANSWERS), "-o", str(out), "--library", str(MINI_LIBRARY),
                      "--template", str(template), "--format", "docx", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert expected in result.stderr, result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "proof.txt").exists()
        assert not (out.exists() and list(out.glob("*.docx")))


def test_template_render_is_bounded(tmp_path: Path) -> None:
    from qa_builder.builds.pipeline import prepare_agreement
    from qa_builder.render.docx import render_docx

    answers = load_answers(write_answers(tmp_path, answers_data()))
    agreement: Agreement = prepare_agreement(answers, load_library(MINI_LIBRARY))
    nested = ("{% set s = agreement.title * 30 %}{% for a in s %}{% for b in s %}{% for c in s %}"
              "{% for d in s %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}")
    template = _template(tmp_path, "{{ agreement.title }}", nested)
    with pytest.raises(TemplateError, match="was stopped: its loops ran past 2,000,000 steps"):
        render_docx(agreement, template, tmp_path / "x.docx")
    assert not (tmp_path / "x.docx").exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("{{ agreement.version / 0 }}", "ZeroDivisionError"),
    ("{{ agreement.sections[999].title }}", "UndefinedError"),
    ("{{ agreement.title * agreement.title }}", "TypeError"),
])
def test_template_render_failure_is_one_input_line(tmp_path: Path, text: str, expected: str) -> None:
    from qa_builder.builds.pipeline import prepare_agreement
    from qa_builder.render.docx import render_docx

    answers = load_answers(write_answers(tmp_path, answers_data()))
    agreement = prepare_agreement(answers, load_library(MINI_LIBRARY))
    template = _template(tmp_path, "{{ agreement.title }}", text)
    with pytest.raises(TemplateError, match=f"the template failed to render agreement .*{expected}") as info:
        render_docx(agreement, template, tmp_path / "x.docx")
    assert info.value.exit_code == 2
    assert not (tmp_path / "x.docx").exists()


def _link_outside(data: bytes, rel_type: str) -> bytes:
    link = (f'<Relationship Id="rIdEvil" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/{rel_type}" Target="http://127.0.0.1:9/x.dotm" TargetMode="External"/>').encode()
    return data.replace(b"</Relationships>", link + b"</Relationships>")


def test_template_linking_an_outside_resource_is_refused(tmp_path: Path) -> None:
    """An attached template or linked image outside the document is fetched by Word whenever an agreement is
    opened; a template may not carry one (found by the issue-12 attack session)."""
    path = _with_document_xml(tmp_path, lambda d: _link_outside(d, "attachedTemplate"), "word/_rels/document.xml.rels")
    outside = r"word/_rels/document.xml.rels links to a resource outside the document \(attachedTemplate"
    with pytest.raises(TemplateError, match=outside):
        load_template(path)


def test_template_with_a_plain_hyperlink_is_accepted(tmp_path: Path) -> None:
    path = _with_document_xml(tmp_path, lambda d: _link_outside(d, "hyperlink"), "word/_rels/document.xml.rels")
    load_template(path)


@pytest.mark.parametrize("text", ["{{ (1e999) ~ sponsor.name }}", "{% if 1e999 %}y{% endif %}",
                                  "{% set y = -1e999 %}{{ y ~ sponsor.name }}"])
def test_an_infinite_float_literal_is_refused_when_compiled(tmp_path: Path, text: str) -> None:
    """Session 5 attack: a literal 1e999 was compiled as the name `inf` (NameError, an internal error)."""
    with pytest.raises(TemplateProblem, match="too large to be a number"):
        _render(text, _context(tmp_path))
    with pytest.raises(TemplateProblem, match="too large to be a number"):
        compile_condition("1e999 > 0")


@pytest.mark.parametrize(("text", "expected"), [
    ('{{ 1.5 | round(999999999, "floor") }}', "round takes a whole number of digits"),
    ("{{ 5 | round(-999999999) }}", "round takes a whole number of digits"),
    ('{% set a = ("f" * 1000000) | int(base=16) %}{% set b = ("f" * 500000) | int(base=16) %}{{ (a // b) > 0 }}',
     "more than 256 bits"),
    ("{{ 1e308 | int }}", "more than 256 bits"),
])
def test_number_filters_are_bounded(tmp_path: Path, text: str, expected: str) -> None:
    """Session 5 attack: round computed 10 ** precision without a bound (never ended), and int made numbers of
    millions of bits whose division alone outlasted the clause's 5 s."""
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match=expected):
        _render(text, _context(tmp_path))
    assert time.monotonic() - started < 3
    assert _render("{{ 2.345 | round(2) }} {{ '42' | int }} {{ 7.5 | round(0, 'floor') }}", _context(tmp_path)) == (
        "2.35 42 7.0")


SLOW_TEXT = ('{% set a = "x" * 200000 %}{% for c in "x" * 300 %}{% if "y" in a|replace("x","z") %}!{% endif %}'
             '{% endfor %}Slow.')
"""A clause text that takes a few tenths of a second: well under one render's bound of 5 s."""


def _add_slow_clauses(lib: Path, count: int) -> None:
    lines = ["clauses:"]
    for index in range(count):
        lines += [f"  - id: zz_slow_{index}", "    title: Slow clause", "    section: general",
                  f"    order: {900 + index}", "    version: 1", "    status: approved",
                  "    effective_date: 2026-01-01", "    applies_when: 'true'", "    references: []",
                  f"    text: {_yaml_string(SLOW_TEXT)}"]
    (lib / "clauses" / "zz_slow.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_agreement_bounds_the_render_time_of_all_its_clauses(lib: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Session 5 attack: each render was bounded (5 s) but not their sum, so a library of many clauses each a
    little under the bound made one build take hours. Here the bound in all is lowered to 1 s."""
    from qa_builder.library.assemble import assemble_agreement
    from qa_builder.library.select import select_clauses
    from qa_builder.sandbox import environment as sandbox

    monkeypatch.setattr(sandbox, "AGREEMENT_RENDER_SECONDS", 1.0)
    _add_slow_clauses(lib, 60)  # ~0.08 s each on an idle machine: well over the 1 s bound in all
    library = load_library(lib)
    answers = load_answers(write_answers(tmp_path, answers_data())).answers
    started = time.monotonic()
    with pytest.raises(LibraryError, match=r"zz_slow\.yaml line \d+: clause 'zz_slow_\d+'.*more than 1 s in all"):
        assemble_agreement(answers, library, select_clauses(library, answers))
    assert time.monotonic() - started < 3


def test_the_library_lint_bounds_the_render_time_of_one_text(lib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Session 5 attack: `library check` renders every clause under hundreds of arrangements; a clause taking
    1.3 s per render (under its 5 s bound) kept it busy for about 18 minutes. Here the bound per text is 1 s."""
    from qa_builder.library.lint import lint_library
    from qa_builder.sandbox import environment as sandbox

    monkeypatch.setattr(sandbox, "LINT_TEXT_SECONDS", 1.0)
    _add_slow_clauses(lib, 1)
    started = time.monotonic()
    with pytest.raises(LibraryError, match=r"clause 'zz_slow_0'.*took more than 1 s in all, over every time"):
        lint_library(load_library(lib))
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("count", [-1, -5])
def test_replace_with_a_negative_count_is_bounded_like_replace_all(tmp_path: Path, count: int) -> None:
    """Session 5 attack: a negative count (which replaces every occurrence) was taken as 0 by the size check, so
    `a|replace("x", b, -1)` over a million 'x' set out to make a 10,000,000,000-character text (MemoryError under a
    3 GB limit, the machine's memory without one)."""
    text = '{% set a = "x" * 999999 %}{% set b = "y" * 9999 %}{{ a | replace("x", b, ' + str(count) + ') | length }}'
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="would make a text longer than 1,000,000"):
        _render(text, _context(tmp_path))
    assert time.monotonic() - started < 3
    assert _render('{{ "abca" | replace("a", "z", ' + str(count) + ') }}', _context(tmp_path)) == "zbcz"


@pytest.mark.parametrize(("text", "expected"), [
    ("{{ sponsor.name }}" * 140_000, "140,000 '{{' and '{%' tags"),
    ("{{ sponsor.name ~ sponsor.name ~ sponsor.name ~ sponsor.name }}" * 3_000, "more than 10,000 expressions"),
    ("{% for a in sponsor.name %}" * 40 + "y" + "{% endfor %}" * 40, "nests loops and conditions too deeply"),
])
def test_compiling_a_text_is_bounded(text: str, expected: str) -> None:
    """Session 5 attack: compiling is not bounded by a render's limits. 140,000 '{{ x }}' (980 KB, under the 1 MiB
    file limit) took 48 s and 1.4 GB; 40 nested loops hit Python's limit of 20 nested blocks, a SyntaxError that
    `library check` reported as "internal error"."""
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match=f"does not compile .*{re.escape(expected)}"):
        compile_text(text)
    assert time.monotonic() - started < 5
    with pytest.raises(TemplateProblem, match="does not parse as a condition"):
        compile_condition(" and ".join(["(" * 5 + "true" + ")" * 5] * 3000))


def test_a_date_format_is_bounded(tmp_path: Path) -> None:
    """Session 6 attack: `strftime` with a 960,000-character format of '%099999Y' (within the text bound) made
    CPython grow its buffer to 256 wide characters per format character: 1 GB for one call."""
    text = "{{ agreement.effective_date.strftime('%099999Y' * 120000) }}"
    with pytest.raises(TemplateProblem, match="strftime takes a date format of at most 100 characters"):
        _render(text, _context(tmp_path))
    assert _render("{{ agreement.effective_date.strftime('%Y') }}", _context(tmp_path)).isdigit()


def test_the_render_account_counts_processor_time_not_the_machines_load() -> None:
    """Session 6 (the session 5 leftover: a hostile library kept `library check` busy up to 300 s): the account
    of all renders counted wall-clock time, so its bound had to allow for a loaded machine (the bundled library's
    15 s of renders at load 6 were 7.5 s of processor time). It counts the rendering thread's processor time, and
    the bounds are 120 s for the lint and 10 s per agreement."""
    from qa_builder.sandbox import environment

    with environment.accounted():
        account = environment._ACCOUNT.get()
        assert account is not None
        with environment._charged(object(), environment.CLAUSE_LIMITS):
            time.sleep(0.5)  # waiting, as a render does while other processes have the processor
        assert account.spent < 0.2
    assert environment.LINT_RENDER_SECONDS <= 120 and environment.AGREEMENT_RENDER_SECONDS <= 10
    # A DOCX template ran a build for 4 minutes inside the earlier 300 s (session 6, attack round 7).
    assert environment.DOCUMENT_LIMITS.max_seconds <= 30


_INCLUDEPICTURE = (b'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> '
                   b'INCLUDEPICTURE "http://127.0.0.1:9/track.png" \\d </w:instrText></w:r><w:r>'
                   b'<w:fldChar w:fldCharType="end"/></w:r></w:p>')


@pytest.mark.parametrize(("renamed", "expected"), [
    ("word/document.dat", "part word/document.dat holds the field INCLUDEPICTURE"),
    ("word/document", "part word/document holds the field INCLUDEPICTURE"),
    ("evil/document.xml", "part evil/document.xml holds the field INCLUDEPICTURE"),
])
def test_a_template_part_is_checked_by_its_content_type_not_its_name(tmp_path: Path, renamed: str,
                                                                     expected: str) -> None:
    """Session 6 attack: the field and DTD checks looked only at parts named *.xml (fields: under word/). A template
    whose main document was 'word/document.dat', declared as the document's XML in [Content_Types].xml, built
    agreements carrying an INCLUDEPICTURE field that fetches a URL when the agreement is opened."""
    source = _template(tmp_path, "{{ agreement.title }}", name="base.docx")
    path = tmp_path / "renamed.docx"
    buffer = io.BytesIO()
    stem = renamed.rsplit("/", 1)[-1]
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data, name = zin.read(info), info.filename
            if name == "word/document.xml":
                data, name = data.replace(b"<w:body>", b"<w:body>" + _INCLUDEPICTURE, 1), renamed
            elif name == "word/_rels/document.xml.rels":
                name = f"{renamed.rsplit('/', 1)[0]}/_rels/{stem}.rels"
            elif name in ("[Content_Types].xml", "_rels/.rels"):
                data = data.replace(b"word/document.xml", renamed.encode())
            zout.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(TemplateError, match=re.escape(expected)):
        load_template(path)


@pytest.mark.parametrize("text", [
    '{% set c = "b" * 999999 ~ "a" %}{{ ("a" * 1000000).lstrip(c) | length }}',
    '{% set c = "b" * 999999 ~ "a" %}{{ ("a" * 1000000) | trim(c) | length }}',
])
def test_one_strip_call_is_bounded(tmp_path: Path, text: str) -> None:
    """Session 6 attack: `lstrip` (and `trim`) with a 1,000,000-character set of characters to remove looked each
    of a 1,000,000-character text's characters up in it: one call ran 31 s, past the 5 s bound checked between
    calls."""
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="takes at most 100 characters to remove"):
        _render(text, _context(tmp_path))
    assert time.monotonic() - started < 3
    assert _render('{{ "--x--" | trim("-") }}{{ "xxaxx".strip("x") }}{{ " y " | trim }}', _context(tmp_path)) == "xay"


def test_the_conditions_of_requirements_count_in_the_agreement_bound(lib: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Session 6 attack: 150 requirements with a heavy `applies_when` made `check` run 58 s; the conditions of
    clauses and matrix rows were bounded in all, those of requirements were not. Here the bound in all is 1 s."""
    from qa_builder.library.coverage import requirement_coverage
    from qa_builder.library.select import select_clauses
    from qa_builder.sandbox import environment as sandbox

    monkeypatch.setattr(sandbox, "AGREEMENT_RENDER_SECONDS", 1.0)
    heavy = "(((('aeiou' ~ facts.has_eu) * 5000) | map('upper') | join) | map('lower') | join | length) > 0"
    rows = [f"  - {{id: ZZ-HEAVY-{n}, source: Test, summary: Heavy., applies_when: {_yaml_string(heavy)}, "
            "verified: false, verification_note: test}" for n in range(60)]
    requirements = lib / "requirements.yaml"
    requirements.write_text(requirements.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(rows) + "\n",
                            encoding="utf-8")
    library = load_library(lib)
    answers = load_answers(write_answers(tmp_path, answers_data())).answers
    started = time.monotonic()
    with pytest.raises(LibraryError, match=r"ZZ-HEAVY-\d+.*more than 1 s in all"):
        requirement_coverage(library, answers, select_clauses(library, answers))
    assert time.monotonic() - started < 5
