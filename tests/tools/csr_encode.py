#!/usr/bin/python3
"""csr_encode.py — an independent encoder of SignCert requests (kms-protocol §8).

Writes the SCALE encoding of CertSigningRequestV1/V2 by hand (not with the
project's C code) and signs it with python3-cryptography (ECDSA P-256 /
SHA-256, DER signature), then prints the SignCert JSON request body.

  csr_encode.py v2 --key KEY.pem --attestation ATT.bin --subject NAME
                [--org NAME] [--san NAME]... [--server-auth] [--client-auth]
                [--ext-quote] [--ext-app-info] [--not-before T] [--not-after T]
                [--sign-key OTHER.pem] [--mutate MODE] [--vm-config JSON]
  csr_encode.py v1 --key KEY.pem --quote QUOTE.bin --event-log LOG.json ...
  csr_encode.py app-info-device-id CERT.pem
                -> device_id hex from the APP_INFO extension (msgpack array)

--mutate: "truncate:N" (keep the first N bytes of the CSR), "noncanonical"
(the subject's length as a 2-byte compact), "bool2" (usage_server_auth = 2),
"trailing" (one extra byte, v1 only), "confirm" (a wrong confirm word). The
signature always covers the bytes sent, so a mutation is refused by the
decoder, not by the signature check.
"""
import argparse
import json
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def compact(n, force_len=None):
    if force_len == 2 or (force_len is None and 64 <= n < 1 << 14):
        return struct.pack("<H", (n << 2) | 1)
    if n < 64:
        return bytes([n << 2])
    if n < 1 << 30:
        return struct.pack("<I", (n << 2) | 2)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([((len(raw) - 4) << 2) | 3]) + raw


def vec(b, force_len=None):
    return compact(len(b), force_len) + b


def opt(v, enc):
    return b"\x00" if v is None else b"\x01" + enc(v)


def encode(a, pubkey):
    confirm = b"please sign cert:" if a.mutate != "confirm" else b"please sign this"
    out = vec(confirm) + vec(pubkey)
    out += opt(a.org, lambda s: vec(s.encode()))
    out += vec(a.subject.encode(), 2 if a.mutate == "noncanonical" else None)
    out += compact(len(a.san)) + b"".join(vec(s.encode()) for s in a.san)
    out += bytes([2 if a.mutate == "bool2" else int(a.server_auth), int(a.client_auth),
                  int(a.ext_quote)])
    if a.version == "v2":
        out += bytes([int(a.ext_app_info)])
        out += opt(a.not_before, lambda t: struct.pack("<Q", t))
        out += opt(a.not_after, lambda t: struct.pack("<Q", t))
        out += open(a.attestation, "rb").read()
    else:
        out += vec(open(a.quote, "rb").read()) + vec(open(a.event_log, "rb").read())
        if a.mutate == "trailing":
            out += b"\x00"
    if a.mutate and a.mutate.startswith("truncate:"):
        out = out[: int(a.mutate.split(":")[1])]
    return out


def msgpack_array_of_bins(b):
    """Just enough msgpack for the APP_INFO array (§7.5): fixarray/array16 of bin8/16/nil."""
    i = 0

    def item():
        nonlocal i
        t = b[i]
        i += 1
        if t == 0xC0:
            return None
        if t in (0xC4, 0xC5):
            n = b[i] if t == 0xC4 else struct.unpack(">H", b[i:i + 2])[0]
            i += 1 if t == 0xC4 else 2
            v = b[i:i + n]
            i += n
            return v
        if 0x90 <= t <= 0x9F:
            return [item() for _ in range(t & 0x0F)]
        raise ValueError("unexpected msgpack type %02x" % t)
    return item()


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "app-info-device-id":
        cert = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier("1.3.6.1.4.1.62397.1.9"))
        raw = ext.value.value
        assert raw[0] == 0x04  # inner OCTET STRING (§7.1 double wrapping)
        n, off = raw[1], 2
        if n & 0x80:
            k = n & 0x7F
            n, off = int.from_bytes(raw[2:2 + k], "big"), 2 + k
        arr = msgpack_array_of_bins(raw[off:off + n])
        print(json.dumps({"app_id": arr[0].hex(), "device_id": arr[3].hex(),
                          "os_image_hash": arr[6].hex()}))
        return
    p = argparse.ArgumentParser()
    p.add_argument("version", choices=["v1", "v2"])
    p.add_argument("--key", required=True)
    p.add_argument("--sign-key")
    p.add_argument("--attestation")
    p.add_argument("--quote")
    p.add_argument("--event-log")
    p.add_argument("--subject", default="app.example")
    p.add_argument("--org")
    p.add_argument("--san", action="append", default=[])
    p.add_argument("--server-auth", action="store_true")
    p.add_argument("--client-auth", action="store_true")
    p.add_argument("--ext-quote", action="store_true")
    p.add_argument("--ext-app-info", action="store_true")
    p.add_argument("--not-before", type=int)
    p.add_argument("--not-after", type=int)
    p.add_argument("--mutate")
    p.add_argument("--vm-config", default="")
    a = p.parse_args()
    key = serialization.load_pem_private_key(open(a.key, "rb").read(), password=None)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    data = encode(a, spki)
    signer = key if not a.sign_key else serialization.load_pem_private_key(
        open(a.sign_key, "rb").read(), password=None)
    sig = signer.sign(data, ec.ECDSA(hashes.SHA256()))
    print(json.dumps({"api_version": 2 if a.version == "v2" else 1, "csr": data.hex(),
                      "signature": sig.hex(), "vm_config": a.vm_config}))


if __name__ == "__main__":
    main()
