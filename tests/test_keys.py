"""Key loading: a passphrase or PIN is checked on every load, never answered from a cache of another one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from qa_builder.errors import SigningError, SigningInputError
from qa_builder.signing.keys import close_pkcs11_sessions, load_pkcs11_key, load_pkcs12_key
from tests.conftest import SOFTHSM_MODULE, make_softhsm_token, run_cli, self_signed_p12


def _signs(key: Any, certificate: x509.Certificate) -> None:
    """The key signs, and its signature verifies under the certificate."""
    data = b"quality agreement QA-1 v1"
    signature = asyncio.run(key.signer.async_sign_raw(data, "sha256"))
    public = certificate.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_pkcs11_wrong_pin_after_a_good_login_is_refused(softhsm_token: Path, test_pki: Any) -> None:
    """Part 11: after one good login in a process, a wrong PIN must not sign (it used to: the session was cached)."""
    certificate = test_pki.load_key_and_certificates("sponsor")[1]
    _signs(load_pkcs11_key(softhsm_token, "qa-token", "sponsor", b"4321"), certificate)
    for wrong in (b"0000", b"43210", b""):
        with pytest.raises(SigningError, match="wrong PIN"):
            load_pkcs11_key(softhsm_token, "qa-token", "sponsor", wrong)
    _signs(load_pkcs11_key(softhsm_token, "qa-token", "sponsor", b"4321"), certificate)


def test_closed_sessions_no_longer_sign(softhsm_token: Path, test_pki: Any) -> None:
    key = load_pkcs11_key(softhsm_token, "qa-token", "sponsor", b"4321")
    close_pkcs11_sessions()
    with pytest.raises(Exception):  # noqa: B017 - any PKCS#11 error: the point is that nothing is signed
        _signs(key, test_pki.load_key_and_certificates("sponsor")[1])


def test_pkcs12_wrong_passphrase_after_a_good_one_is_refused(test_pki: Any) -> None:
    key = load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase())
    with pytest.raises(SigningError, match="wrong passphrase"):
        load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase() + b"x")
    assert load_pkcs12_key(test_pki.p12("sponsor"), test_pki.passphrase()) is key  # the good one is cached


def test_pkcs12_cache_does_not_keep_the_passphrase(test_pki: Any) -> None:
    from qa_builder.signing import keys

    passphrase = test_pki.passphrase()
    load_pkcs12_key(test_pki.p12("sponsor"), passphrase)
    assert keys._CACHE and all(passphrase not in cache_key for cache_key in keys._CACHE)


def test_a_key_loaded_for_a_service_is_never_kept(test_pki: Any) -> None:
    """The web app serves several people: an unlocked key it loads is used once, never cached for the next user."""
    from qa_builder.signing import keys

    with keys._CACHE_LOCK:
        keys._CACHE.clear()
    first = load_pkcs12_key(test_pki.p12("contract-acceptor"), test_pki.passphrase(), keep=False)
    second = load_pkcs12_key(test_pki.p12("contract-acceptor"), test_pki.passphrase(), keep=False)
    assert first is not second
    assert not keys._CACHE
    with pytest.raises(SigningError, match="wrong passphrase"):
        load_pkcs12_key(test_pki.p12("contract-acceptor"), test_pki.passphrase() + b"x", keep=False)


def test_an_uploaded_key_is_loaded_from_memory_and_never_kept(test_pki: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The web app signs with an uploaded PKCS#12 without writing it anywhere (a server killed while signing
    left the key file in /tmp); messages call it by the uploaded file's name."""
    from qa_builder.signing import keys

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    data = test_pki.p12("contract-acceptor").read_bytes()
    with keys._CACHE_LOCK:
        keys._CACHE.clear()
    key = keys.load_pkcs12_data(data, test_pki.passphrase(), name="upload.p12")
    assert key.identity and not keys._CACHE and list(tmp_path.iterdir()) == []
    with pytest.raises(SigningError, match=r"^upload\.p12: wrong passphrase"):
        keys.load_pkcs12_data(data, test_pki.passphrase() + b"x", name="upload.p12")
    with pytest.raises(SigningError, match=r"^upload\.p12: is not a PKCS#12"):
        keys.load_pkcs12_data(b"not a key", test_pki.passphrase(), name="upload.p12")


def _shrouded_keys_asking(contents: Any, iterations: int) -> Any:
    """PKCS#12 safe contents whose shrouded key bags state `iterations` key-derivation iterations."""
    for bag in contents:
        if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
            bag["bag_value"]["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"][
                "iteration_count"] = iterations
    return contents


@pytest.mark.parametrize("where", ["mac", "key"])
def test_a_key_file_asking_for_billions_of_iterations_is_refused_at_once(test_pki: Any, tmp_path: Path,
                                                                         where: str) -> None:
    """Session 6 attack: a PKCS#12 file whose MAC (or shrouded key) asked for 2,147,483,647 key-derivation
    iterations kept `sign` busy for hours (stopped by a 60 s timeout) before the passphrase was even checked."""
    import time

    from asn1crypto import pkcs12

    from qa_builder.signing.keys import load_pkcs12_data

    pfx = pkcs12.Pfx.load(test_pki.p12("sponsor").read_bytes())
    if where == "mac":
        pfx["mac_data"]["iterations"] = 2**31 - 1
    else:
        safe = pfx.authenticated_safe
        for info in safe:
            if info["content_type"].native == "data":
                contents = _shrouded_keys_asking(pkcs12.SafeContents.load(info["content"].native), 2**31 - 1)
                info["content"] = pkcs12.OctetString(contents.dump(force=True))  # type: ignore[attr-defined]
        pfx["auth_safe"]["content"] = pkcs12.OctetString(safe.dump(force=True))  # type: ignore[attr-defined]
    hostile = tmp_path / "hostile.p12"
    hostile.write_bytes(pfx.dump(force=True))
    started = time.monotonic()
    with pytest.raises(SigningError, match="asks for 2,147,483,647 key-derivation iterations"):
        load_pkcs12_key(hostile, test_pki.passphrase())
    with pytest.raises(SigningError, match="key-derivation iterations"):
        load_pkcs12_data(hostile.read_bytes(), test_pki.passphrase(), name="hostile.p12")
    assert time.monotonic() - started < 5


def _sealed_with_pbes2(plain: bytes, passphrase: bytes) -> Any:
    """`plain` as the ContentInfo of a PKCS#12 EncryptedData: PBES2, PBKDF2-SHA256 with 2,048 iterations, AES-256."""
    import os

    from asn1crypto import algos, cms, core
    from cryptography.hazmat.primitives import padding as symmetric_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    salt, iv = os.urandom(16), os.urandom(16)
    derived = PBKDF2HMAC(hashes.SHA256(), 32, salt, 2048).derive(passphrase)
    padder = symmetric_padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(derived), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    algorithm = cms.EncryptionAlgorithm({"algorithm": "pbes2", "parameters": {
        "key_derivation_func": {"algorithm": "pbkdf2", "parameters": {
            "salt": algos.Pbkdf2Salt(name="specified", value=core.OctetString(salt)), "iteration_count": 2048,
            "prf": {"algorithm": "sha256"}}},
        "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv}}})
    return cms.ContentInfo({"content_type": "encrypted_data", "content": cms.EncryptedData({
        "version": "v0", "encrypted_content_info": {"content_type": "data", "content_encryption_algorithm": algorithm,
                                                    "encrypted_content": sealed}})})


def test_billions_of_iterations_hidden_in_the_encrypted_part_are_stopped(test_pki: Any, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Security test leftover: the shrouded key moved inside an EncryptedData, where its iteration count
    (2,147,483,647) cannot be read before the file is opened. cryptography holds the interpreter lock while it
    derives keys (Ctrl-C waits too), so `sign` hung for hours; now the opening runs in a child process that is
    killed after PKCS12_OPEN_SECONDS, and the refusal is one line."""
    import os
    import time

    from asn1crypto import pkcs12

    from qa_builder.signing import keys

    passphrase = test_pki.passphrase()
    pfx = pkcs12.Pfx.load(test_pki.p12("sponsor").read_bytes())
    hidden = []
    for info in pfx.authenticated_safe:
        if info["content_type"].native == "data":
            contents = _shrouded_keys_asking(pkcs12.SafeContents.load(info["content"].native), 2**31 - 1)
            info = _sealed_with_pbes2(contents.dump(force=True), passphrase)
        hidden.append(info)
    hostile = pkcs12.Pfx({"version": "v3", "auth_safe": {
        "content_type": "data", "content": pkcs12.AuthenticatedSafe(hidden).dump()}})  # no MAC: it is optional
    assert max(keys._kdf_iterations(hostile)) <= 2048 * 10  # nothing in the clear gives it away
    path = tmp_path / "hidden.p12"
    path.write_bytes(hostile.dump())
    monkeypatch.setattr(keys, "PKCS12_OPEN_SECONDS", 1.0)
    started = time.monotonic()
    with pytest.raises(SigningError) as error:
        load_pkcs12_key(path, passphrase)
    assert str(error.value) == (f"{path}: opening it took more than 1 s (its encrypted part asks for far more "
                                "key-derivation work than a key file needs); refused")
    assert time.monotonic() - started < 5
    children = " ".join(Path(f"/proc/self/task/{t}/children").read_text() for t in os.listdir("/proc/self/task"))
    states = [Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for pid in children.split()]
    assert "Z" not in states  # the child was killed and reaped: no zombie left behind
    assert load_pkcs12_key(test_pki.p12("sponsor"), passphrase).identity.common_name  # a usual file still opens


def test_a_name_mixing_right_to_left_and_latin_letters_is_refused_for_what_it_is(tmp_path: Path) -> None:
    """'Dr. Noa לוי-Smith' is a plausible Israeli signer name; pyHanko's asn1crypto cannot match it (RFC 3454's bidi
    rule), and the refusal said it "has characters newer than Unicode 3.2", which is not the reason."""
    def p12(common_name: str) -> Path:
        return self_signed_p12(tmp_path / f"{len(list(tmp_path.iterdir()))}.p12", common_name)

    with pytest.raises(SigningError) as refused:
        load_pkcs12_key(p12("Dr. Noa \u05dc\u05d5\u05d9-Smith"), b"pw", keep=False)
    message = str(refused.value)
    assert "mixes right-to-left letters (Hebrew, Arabic) with left-to-right ones" in message, message
    assert "Unicode 3.2" not in message
    hebrew_only = load_pkcs12_key(p12("\u05d3\"\u05e8 \u05d3\u05d5\u05d3 \u05db\u05d4\u05df"), b"pw", keep=False)
    assert hebrew_only.identity.common_name.endswith("\u05db\u05d4\u05df")  # one direction: signs


@pytest.fixture
def mismatched_token(tmp_path: Path, test_pki: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SoftHSM2 token holding the sponsor's key under the label 'sponsor', and beside it, under the same label,
    the contract acceptor's certificate (a token set up wrongly)."""
    import pkcs11

    monkeypatch.setenv("SOFTHSM2_CONF", str(make_softhsm_token(tmp_path / "softhsm", test_pki,
                                                                certificate_of="contract-acceptor")))
    close_pkcs11_sessions()
    pkcs11.unload(str(SOFTHSM_MODULE))
    yield SOFTHSM_MODULE
    close_pkcs11_sessions()
    pkcs11.unload(str(SOFTHSM_MODULE))


def test_a_token_key_that_does_not_match_its_certificate_is_refused_before_signing(
        mismatched_token: Path, minimal_build: Path, tmp_path: Path) -> None:
    # the token signed, then the self-check said "the new signature ... does not verify" (exit 1, no culprit)
    with pytest.raises(SigningInputError, match="the private key does not match the certificate"):
        load_pkcs11_key(mismatched_token, "qa-token", "sponsor", b"4321")
    pin = tmp_path / "pin"
    pin.write_text("4321\n", encoding="utf-8")
    out = tmp_path / "signed.pdf"
    result = run_cli("sign", str(minimal_build / "QA-MIN-1_v1.pdf"), "--field", "sig_sponsor_1", "--meaning",
                     "approval", "--certify", "--pkcs11-module", str(mismatched_token), "--token-label", "qa-token",
                     "--key-label", "sponsor", "--pin-file", str(pin), "-o", str(out))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: PKCS#11 token 'qa-token' key 'sponsor': the private key does not match "
                                    "the certificate 'CN=")
    assert len(result.stderr.splitlines()) == 1 and "nothing was signed" in result.stderr
    assert not out.exists()
