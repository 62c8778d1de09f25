"""Plain r‖s ECDSA signature values (BSI TR-03111) are checked, not reported as failed (issue 15 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from qa_builder.verify.api import VerifySettings, verify
from tests.test_verify import CORPUS

SAMPLE = CORPUS / "dss" / "dss-PLAIN-ECDSA_TeleSec_PKS_eIDAS_QES_CA_1-baseline-b.pdf"


@pytest.mark.skipif(not SAMPLE.is_file(), reason="the shared corpus of signed PDFs is not present")
def test_a_plain_ecdsa_value_is_verified_and_a_changed_one_fails(tmp_path: Path) -> None:
    sound = verify([SAMPLE], VerifySettings()).results[0].signatures[0]
    assert (sound.intact, sound.valid) == (True, True)
    assert (sound.indication, sound.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    assert "plain ECDSA value (BSI TR-03111)" in sound.problems[0] and sound.signer_common_name

    data = SAMPLE.read_bytes()
    with SAMPLE.open("rb") as handle:
        value = bytes(PdfFileReader(handle).embedded_signatures[0].signer_info["signature"].native)
    position = data.upper().index(value.hex().upper().encode())  # inside /Contents: outside the signed bytes
    flipped = b"0" if data[position + 20:position + 21] != b"0" else b"1"
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(data[:position + 20] + flipped + data[position + 21:])
    result = verify([forged], VerifySettings()).results[0].signatures[0]
    assert (result.indication, result.sub_indication) == ("TOTAL-FAILED", "SIG_CRYPTO_FAILURE")
    assert result.intact is True and result.valid is False
