#!/usr/bin/env python3
"""Generates the throwaway test certificates and keys in this folder (committed; re-run only to
change them). Root certificates follow Notary's shape: self-signed, CN = GUN, CA:FALSE."""
import datetime
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

def make(name, cn, start, end, ca=False, sha1=False):
    key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA1() if sha1 else hashes.SHA256()))
    open(f"{name}.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open(f"{name}.key", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))

d = lambda y, m=1: datetime.datetime(y, m, 1, tzinfo=datetime.timezone.utc)
make("root-val", "example.com/val", d(2020), d(2046))
make("root-val-2", "example.com/val", d(2020), d(2046))
make("root-val-3", "example.com/val", d(2020), d(2046))
make("root-val-v2", "example.com/val-v2", d(2020), d(2046))
make("root-other-cn", "example.com/other", d(2020), d(2046))
make("root-val-expired", "example.com/val", d(2020), d(2021))
make("root-val-ca", "example.com/val", d(2020), d(2046), ca=True)
make("delegate", "delegate", d(2020), d(2046))
