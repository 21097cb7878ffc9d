#!/usr/bin/env python3
"""A Docker-registry-style token service for Notus's authentication tests, on 127.0.0.1.

It issues ES256 JWTs (iss "notus-test-issuer", aud = the requested service, 5 minutes) signed by a
P-256 key it makes at start, whose public key it writes to PUBKEY_PATH. Accounts (HTTP Basic):
alice:secret may do everything; bob:secret may only pull; anonymous requests may only pull.
Prints its base URL on the first line of stdout.

usage: token_service.py PUBKEY_PATH [RS256]   (ES256 by default; RS256 with a 2048-bit RSA key)
"""
import base64
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALG = sys.argv[2] if len(sys.argv) > 2 else "ES256"
KEY = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if ALG == "RS256"
       else ec.generate_private_key(ec.SECP256R1()))
with open(sys.argv[1], "wb") as f:
    f.write(KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo))
ACCOUNTS = {"alice": ("secret", {"pull", "push", "*"}), "bob": ("secret", {"pull"})}


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims):
    head = b64url(json.dumps({"alg": ALG, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    data = f"{head}.{body}".encode()
    if ALG == "RS256":
        sig = KEY.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(KEY.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{head}.{body}.{b64url(sig)}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        allowed = {"pull"}
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if ACCOUNTS.get(user, (None,))[0] != password:
                self.send_error(401)
                return
            allowed = ACCOUNTS[user][1]
        access = []
        for scope in q.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted = [a for a in actions.split(",") if a in allowed]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        token = jwt({"iss": "notus-test-issuer", "sub": "test", "aud": q.get("service", [""])[0],
                     "exp": now + 300, "nbf": now - 5, "iat": now, "access": access})
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"http://127.0.0.1:{httpd.server_address[1]}", flush=True)
httpd.serve_forever()
