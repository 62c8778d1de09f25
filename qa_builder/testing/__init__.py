"""TEST ONLY: a throw-away PKI (`pki`) and its loopback TSA, OCSP responder and CRL server (`services`).

For tests, the demo and trying signing out; nothing here is fit for signing a real agreement.
"""
