"""Changes after signing judged on what actually changed (issue 15 item 8): annotations and form filling after an
approval signature are accepted and listed, field-locked workflows are judged by their locks, and a change the
permissions in force do not allow stays TOTAL-FAILED, naming its objects and pages."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import RawContent
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers

from qa_builder.signing.keys import load_pkcs12_key
from qa_builder.verify.api import VerifySettings, verify
from qa_builder.verify.report import FileReport, SignatureReport

Change = Callable[[IncrementalPdfFileWriter], None]
_N = generic.NameObject


def _page_text(text: bytes) -> generic.StreamObject:
    return generic.StreamObject(stream_data=b"BT /F1 14 Tf 60 760 Td (" + text + b") Tj ET")


def _blank_with_text_fields(names: list[str]) -> bytes:
    """A one-page PDF with a visible text line and one empty text field per name (no signature fields yet)."""
    writer = PdfFileWriter()
    font = writer.add_object(generic.DictionaryObject({
        _N("/Type"): _N("/Font"), _N("/Subtype"): _N("/Type1"), _N("/BaseFont"): _N("/Helvetica")}))
    page = generic.DictionaryObject({
        _N("/Type"): _N("/Page"),
        _N("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
        _N("/Resources"): generic.DictionaryObject({_N("/Font"): generic.DictionaryObject({_N("/F1"): font})}),
        _N("/Contents"): writer.add_object(_page_text(b"Quality Agreement QA-TEST-1: batch release by the QP")),
    })
    writer.insert_page(page)
    page_ref = writer.root["/Pages"]["/Kids"][0]
    annots = generic.ArrayObject()
    form_fields = generic.ArrayObject()
    for number, name in enumerate(names):
        field = writer.add_object(generic.DictionaryObject({
            _N("/FT"): _N("/Tx"), _N("/T"): generic.TextStringObject(name), _N("/Type"): _N("/Annot"),
            _N("/Subtype"): _N("/Widget"), _N("/P"): page_ref, _N("/DA"): generic.TextStringObject("/F1 10 Tf 0 g"),
            _N("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (60, 700 - 40 * number,
                                                                               300, 720 - 40 * number)])}))
        annots.append(field)
        form_fields.append(field)
    page_ref.get_object()[_N("/Annots")] = annots
    writer.root[_N("/AcroForm")] = writer.add_object(generic.DictionaryObject({
        _N("/Fields"): form_fields,
        _N("/DR"): generic.DictionaryObject({_N("/Font"): generic.DictionaryObject({_N("/F1"): font})})}))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _update(data: bytes, change: Change) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _add_signature_fields(data: bytes, specs: list[fields.SigFieldSpec]) -> bytes:
    def change(writer: IncrementalPdfFileWriter) -> None:
        for spec in specs:
            fields.append_signature_field(writer, spec)
    return _update(data, change)


def _sign(data: bytes, pki: Any, signer: str, field: str, *, certify: bool = False,
          permission: fields.MDPPerm = fields.MDPPerm.FILL_FORMS) -> bytes:
    key = load_pkcs12_key(pki.p12(signer), pki.passphrase())
    meta = signers.PdfSignatureMetadata(field_name=field, certify=certify, docmdp_permissions=permission,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=key.signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)),
                                                        existing_fields_only=True, output=out)
    return out.getvalue()


def _fill(name: str, value: str) -> Change:
    """Fill text field `name` with `value`, with its own appearance stream (as a PDF reader does)."""
    def change(writer: IncrementalPdfFileWriter) -> None:
        for ref in writer.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if field.get("/T") == name:
                appearance = generic.StreamObject({
                    _N("/Type"): _N("/XObject"), _N("/Subtype"): _N("/Form"),
                    _N("/BBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 240, 20)]),
                    _N("/Resources"): writer.root["/AcroForm"]["/DR"]},
                    stream_data=b"/Tx BMC BT /F1 10 Tf 2 6 Td (" + value.encode() + b") Tj ET EMC")
                field[_N("/V")] = generic.TextStringObject(value)
                field[_N("/AP")] = generic.DictionaryObject({_N("/N"): writer.add_object(appearance)})
                writer.update_container(field)
                return
        raise AssertionError(name)
    return change


def _comment(writer: IncrementalPdfFileWriter) -> None:
    """A sticky-note comment on page 1, as a reviewer adds one."""
    page_ref = writer.root["/Pages"].raw_get("/Kids")[0]
    page = page_ref.get_object()
    note = writer.add_object(generic.DictionaryObject({
        _N("/Type"): _N("/Annot"), _N("/Subtype"): _N("/Text"),
        _N("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (400, 700, 420, 720)]),
        _N("/Contents"): generic.TextStringObject("Checked against SOP-QA-012"),
        _N("/P"): page_ref}))
    annots = page.get("/Annots")
    if isinstance(annots, generic.ArrayObject):
        annots.append(note)
    else:
        page[_N("/Annots")] = generic.ArrayObject([note])
    writer.update_container(page)


def _new_page_content(writer: IncrementalPdfFileWriter) -> None:
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    stream = RawContent(b"BT /F1 14 Tf 60 760 Td (Batch release by the CMO alone) Tj ET",
                        box=BoxConstraints(width=10, height=10))
    page[_N("/Contents")] = writer.add_object(generic.StreamObject(stream_data=stream.render()))
    writer.update_container(page)


def _verify(data: bytes, tmp_path: Path, pki: Any, name: str = "signed.pdf") -> FileReport:
    target = tmp_path / name
    target.write_bytes(data)
    return verify([target], VerifySettings(trust_roots=(pki.root_pem,))).results[0]


def _entry(result: FileReport, field: str) -> SignatureReport:
    return next(s for s in result.signatures if s.field == field)


def _approved(pki: Any) -> bytes:
    data = _add_signature_fields(_blank_with_text_fields(["Comments"]),
                                 [fields.SigFieldSpec("Sponsor", on_page=0, box=(60, 80, 260, 140))])
    return _sign(data, pki, "sponsor", "Sponsor")


# -- approval signature, then annotation / form filling / other changes ---------------------------------------------

@pytest.mark.parametrize(("change", "kind", "words"), [
    (_comment, "annotations", "Text annotation added"),
    (_fill("Comments", "Reviewed by QA"), "form_filling", "form field 'Comments' filled"),
])
def test_an_approval_signature_accepts_annotations_and_form_filling_and_lists_them(
        test_pki: Any, tmp_path: Path, change: Change, kind: str, words: str) -> None:
    result = _verify(_update(_approved(test_pki), change), tmp_path, test_pki)
    sponsor = _entry(result, "Sponsor")
    assert sponsor.intact and sponsor.valid and sponsor.docmdp_ok is True
    assert sponsor.indication != "TOTAL-FAILED", sponsor.problems
    # saving the file also updates the document information dictionary (/ModDate): metadata, listed as such
    assert set(sponsor.modification_classes) == {kind, "validation_data"}, sponsor.changes_after_signing
    assert any(words in line and "page 1" in line for line in sponsor.changes_after_signing)
    assert not any("not allowed" in line for line in sponsor.changes_after_signing)


def test_a_change_outside_the_permissions_fails_naming_object_and_page(test_pki: Any, tmp_path: Path) -> None:
    result = _verify(_update(_approved(test_pki), _new_page_content), tmp_path, test_pki)
    sponsor = _entry(result, "Sponsor")
    assert (sponsor.indication, sponsor.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert "other" in sponsor.modification_classes and sponsor.docmdp_ok is False
    problem = " ".join(sponsor.problems)
    assert "page 1: /Contents changed" in problem and "object" in problem


def test_a_certification_that_allows_form_filling_refuses_a_comment(test_pki: Any, tmp_path: Path) -> None:
    data = _add_signature_fields(_blank_with_text_fields(["Comments"]),
                                 [fields.SigFieldSpec("Sponsor", on_page=0, box=(60, 80, 260, 140))])
    certified = _sign(data, test_pki, "sponsor", "Sponsor", certify=True)
    filled = _verify(_update(certified, _fill("Comments", "ok")), tmp_path, test_pki, "filled.pdf")
    assert _entry(filled, "Sponsor").indication != "TOTAL-FAILED"
    commented = _verify(_update(certified, _comment), tmp_path, test_pki, "commented.pdf")
    sponsor = _entry(commented, "Sponsor")
    assert (sponsor.indication, sponsor.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert "annotations" in sponsor.modification_classes
    assert "allow only form filling and signing" in " ".join(sponsor.problems)
    assert sponsor.certification == "fill_forms"


# -- a field-locked workflow with four signers ------------------------------------------------------------------------

def _locked_workflow(pki: Any) -> bytes:
    """Four approval signatures: each signer fills their own text field and signs a field that locks it
    (FieldMDP /Include); the fourth signature locks every field (FieldMDP /All). Nobody certifies."""
    names = ["Sponsor QA", "Sponsor QP", "CMO QA", "CMO QP"]
    texts = [f"Note {n + 1}" for n in range(4)]
    specs = [fields.SigFieldSpec(f"Sig{n + 1}", on_page=0, box=(40 + 130 * n, 80, 160 + 130 * n, 140),
                                 field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, [texts[n]])
                                 if n < 3 else fields.FieldMDPSpec(fields.FieldMDPAction.ALL))
             for n in range(4)]
    data = _add_signature_fields(_blank_with_text_fields(texts), specs)
    for n, signer in enumerate(["sponsor", "sponsor", "contract-acceptor", "contract-acceptor"]):
        data = _update(data, _fill(texts[n], f"approved by {names[n]}"))
        data = _sign(data, pki, signer, f"Sig{n + 1}")
    return data


def test_a_field_locked_four_signer_workflow_is_judged_by_what_changed(test_pki: Any, tmp_path: Path) -> None:
    workflow = _locked_workflow(test_pki)
    result = _verify(workflow, tmp_path, test_pki, "workflow.pdf")
    assert [s.field for s in result.signatures] == ["Sig1", "Sig2", "Sig3", "Sig4"]
    for entry in result.signatures:
        assert entry.certification is None, "a lock signature is not a certification"
        assert entry.docmdp_ok is True and entry.indication != "TOTAL-FAILED", (entry.field, entry.problems)
    first = result.signatures[0]
    assert set(first.modification_classes) == {"validation_data", "form_filling", "signature_added"}
    assert any("form field 'Note 2' filled" in line for line in first.changes_after_signing)
    assert result.signatures[3].modification_classes == ["none"], result.signatures[3].changes_after_signing

    # Sig1 locked "Note 1": changing it later breaks Sig1, and (FieldMDP /All) Sig4, naming the field and lock
    tampered = _verify(_update(workflow, _fill("Note 1", "rejected")), tmp_path, test_pki, "tampered.pdf")
    assert tampered.indication == "TOTAL-FAILED"
    sig1 = _entry(tampered, "Sig1")
    assert (sig1.indication, sig1.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    assert "field 'Note 1' is locked by Sig1" in " ".join(sig1.problems)


def test_a_field_lock_only_binds_its_own_fields(test_pki: Any, tmp_path: Path) -> None:
    """Sig1 locks only 'Note 1' (/Include): filling 'Note 2' afterwards is allowed form filling."""
    texts = ["Note 1", "Note 2"]
    data = _add_signature_fields(_blank_with_text_fields(texts), [fields.SigFieldSpec(
        "Sig1", on_page=0, box=(40, 80, 200, 140),
        field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Note 1"]))])
    signed = _sign(_update(data, _fill("Note 1", "yes")), test_pki, "sponsor", "Sig1")
    result = _verify(_update(signed, _fill("Note 2", "later")), tmp_path, test_pki)
    assert _entry(result, "Sig1").indication != "TOTAL-FAILED"
    assert "form_filling" in _entry(result, "Sig1").modification_classes


# -- shadow attacks (issue 15 item 9): what a reader sees must be what was signed, up to the permitted changes --------

def _shows(name: str, text: str, *, value: str | None = None) -> Change:
    """Give text field `name` an appearance that shows `text` (and, when given, the value `value`)."""
    def change(writer: IncrementalPdfFileWriter) -> None:
        for ref in writer.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if field.get("/T") == name:
                appearance = generic.StreamObject({
                    _N("/Type"): _N("/XObject"), _N("/Subtype"): _N("/Form"),
                    _N("/BBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 240, 20)]),
                    _N("/Resources"): writer.root["/AcroForm"]["/DR"]},
                    stream_data=b"/Tx BMC BT /F1 10 Tf 2 6 Td (" + text.encode() + b") Tj ET EMC")
                if value is not None:
                    field[_N("/V")] = generic.TextStringObject(value)
                field[_N("/AP")] = generic.DictionaryObject({_N("/N"): writer.add_object(appearance)})
                writer.update_container(field)
                return
        raise AssertionError(name)
    return change


def test_the_replace_kind_of_shadow_attack_fails_with_page_and_region(test_pki: Any, tmp_path: Path) -> None:
    """The signer sees 'World Health Organisation' in the field, whose hidden value is 'Attacker'; after signing,
    an update only redoes the field's appearance so that it shows its value. Structurally that is form filling."""
    data = _add_signature_fields(_blank_with_text_fields(["Donation to"]),
                                 [fields.SigFieldSpec("Donor", on_page=0, box=(60, 80, 260, 140))])
    prepared = _update(data, _shows("Donation to", "World Health Organisation", value="Attacker"))
    signed = _sign(prepared, test_pki, "sponsor", "Donor")
    result = _verify(_update(signed, _shows("Donation to", "Attacker")), tmp_path, test_pki)
    donor = _entry(result, "Donor")
    assert (donor.indication, donor.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE")
    problem = " ".join(donor.problems)
    assert "page 1, region (" in problem and "visible change that no permitted change explains" in problem
    assert "other" in donor.modification_classes

    # the same field filled honestly (its value changes, new words on a blank box) is form filling
    honest = _verify(_update(signed, _shows("Donation to", "Red Cross", value="Red Cross")), tmp_path, test_pki,
                     "honest.pdf")
    assert _entry(honest, "Donor").indication != "TOTAL-FAILED", _entry(honest, "Donor").problems


def test_a_filled_field_may_not_cover_signed_page_content(test_pki: Any, tmp_path: Path) -> None:
    """A field laid over the signed page text is 'filled' with an opaque box and other words: its value changes
    (form filling), but signed content under the widget is hidden."""
    data = _blank_with_text_fields([])
    def overlay(writer: IncrementalPdfFileWriter) -> None:
        page_ref = writer.root["/Pages"].raw_get("/Kids")[0]
        field = writer.add_object(generic.DictionaryObject({
            _N("/FT"): _N("/Tx"), _N("/T"): generic.TextStringObject("Overlay"), _N("/Type"): _N("/Annot"),
            _N("/Subtype"): _N("/Widget"), _N("/P"): page_ref,
            _N("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (55, 750, 500, 780)])}))
        page = page_ref.get_object()
        page[_N("/Annots")] = generic.ArrayObject([field])
        writer.update_container(page)
        form = writer.root["/AcroForm"]
        form["/Fields"].append(field)
        writer.update_container(form)
    prepared = _add_signature_fields(_update(data, overlay),
                                     [fields.SigFieldSpec("Sig", on_page=0, box=(60, 80, 260, 140))])
    signed = _sign(prepared, test_pki, "sponsor", "Sig")

    def cover(writer: IncrementalPdfFileWriter) -> None:
        for ref in writer.root["/AcroForm"]["/Fields"]:
            field = ref.get_object()
            if field.get("/T") == "Overlay":
                appearance = generic.StreamObject({
                    _N("/Type"): _N("/XObject"), _N("/Subtype"): _N("/Form"),
                    _N("/BBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 445, 30)]),
                    _N("/Resources"): writer.root["/AcroForm"]["/DR"]},
                    stream_data=b"1 g 0 0 445 30 re f 0 g BT /F1 14 Tf 5 10 Td (Batch release by the CMO alone) Tj ET")
                field[_N("/V")] = generic.TextStringObject("Batch release by the CMO alone")
                field[_N("/AP")] = generic.DictionaryObject({_N("/N"): writer.add_object(appearance)})
                writer.update_container(field)
    result = _verify(_update(signed, cover), tmp_path, test_pki)
    sig = _entry(result, "Sig")
    assert (sig.indication, sig.sub_indication) == ("TOTAL-FAILED", "FORMAT_FAILURE"), sig.changes_after_signing
    assert "page 1, region (" in " ".join(sig.problems)
