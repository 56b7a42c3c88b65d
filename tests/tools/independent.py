#!/usr/bin/python3
"""independent.py — re-computes KMS outputs with libraries the KMS does not use.

Used by the integration tests as an independent oracle (Debian's
python3-cryptography for HKDF/P-256/X25519, python3-pycryptodome for
Keccak-256, python3-ecdsa for secp256k1 public-key recovery), so a wire
answer is checked against the formulas of kms-protocol §4.3, §5 and §6, not
against our own C code.

  env-pubkey ROOT_CA_KEY_PEM APP_ID_HEX        -> X25519 public key hex
  recover SIG_HEX MSG_HEX                      -> compressed signer key hex
  env-msg APP_ID_HEX PUBKEY_HEX [TIMESTAMP]    -> message hex (legacy or v1)
  app-keys ROOT_CA_KEY_PEM ROOT_K256_KEY APP_ID_HEX INSTANCE_ID_HEX
                                               -> JSON: disk_crypt_key, env_crypt_key,
                                                  k256_key, k256_pubkey (§4.1, §5, §6.2)
  app-key-msg APP_ID_HEX K256_KEY_HEX          -> the message k256_signature signs
  root-scalar ROOT_CA_KEY_PEM                  -> the root CA private scalar hex
"""
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from Cryptodome.Hash import keccak
import ecdsa

P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def derive_key(ikm, info, length=32):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"RATLS", info=info).derive(ikm)


def pkcs8_der(d):
    """The 138-byte PKCS#8 layout of kms-protocol §5.3, assembled by hand."""
    pub = ec.derive_private_key(d, ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return (bytes.fromhex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420")
            + d.to_bytes(32, "big") + bytes.fromhex("a144034200") + pub)


def env_pubkey(root_pem, app_id):
    root = serialization.load_pem_private_key(root_pem, password=None)
    ikm = root.private_numbers().private_value.to_bytes(32, "big")
    d = int.from_bytes(derive_key(ikm, app_id + b"env-encrypt-key"), "big")
    assert 0 < d < P256_N
    import hashlib
    secret = hashlib.sha256(pkcs8_der(d)).digest()
    pub = x25519.X25519PrivateKey.from_private_bytes(secret).public_key()
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def p256_scalar(root_pem):
    root = serialization.load_pem_private_key(root_pem, password=None)
    return root.private_numbers().private_value.to_bytes(32, "big")


def dh_secret(root_pem, info):
    """DH of §5.3: SHA-256 of the PKCS#8 DER of the derived P-256 key."""
    import hashlib
    d = int.from_bytes(derive_key(p256_scalar(root_pem), info), "big")
    assert 0 < d < P256_N
    return hashlib.sha256(pkcs8_der(d)).digest()


def k256_compressed(scalar):
    G, n = ecdsa.SECP256k1.generator, ecdsa.SECP256k1.order
    d = int.from_bytes(scalar, "big")
    assert 0 < d < n, "not a valid secp256k1 scalar"
    Q = G * d
    return bytes([2 + (Q.y() & 1)]) + Q.x().to_bytes(32, "big")


def app_keys(root_pem, k256_root, app_id, instance_id):
    app_k256 = derive_key(k256_root, app_id + b"app-key")
    return {"disk_crypt_key": dh_secret(root_pem, app_id + instance_id + b"app-disk-crypt-key").hex(),
            "env_crypt_key": dh_secret(root_pem, app_id + b"env-encrypt-key").hex(),
            "k256_key": app_k256.hex(), "k256_pubkey": k256_compressed(app_k256).hex()}


def recover(sig, msg):
    """ECDSA public-key recovery over secp256k1: Q = r^-1 (sR - eG), R.y parity = v."""
    h = keccak.new(digest_bits=256)
    h.update(msg)
    e = int.from_bytes(h.digest(), "big")
    assert len(sig) == 65 and sig[64] in (0, 1), "signature must be r||s||v with v in {0,1}"
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    curve, G, n = ecdsa.SECP256k1.curve, ecdsa.SECP256k1.generator, ecdsa.SECP256k1.order
    assert 0 < r < n and 0 < s <= n // 2, "signature is not low-S"
    p = curve.p()
    beta = pow((r * r * r + 7) % p, (p + 1) // 4, p)
    y = beta if beta % 2 == v else p - beta
    R = ecdsa.ellipticcurve.PointJacobi(curve, r, y, 1, n)
    Q = (R * s + G * ((-e) % n)) * pow(r, -1, n)
    return bytes([2 + (Q.y() & 1)]) + Q.x().to_bytes(32, "big")


def main(argv):
    cmd = argv[1]
    if cmd == "env-pubkey":
        print(env_pubkey(open(argv[2], "rb").read(), bytes.fromhex(argv[3])).hex())
    elif cmd == "recover":
        print(recover(bytes.fromhex(argv[2]), bytes.fromhex(argv[3])).hex())
    elif cmd == "env-msg":
        msg = b"dstack-env-encrypt-pubkey:" + bytes.fromhex(argv[2])
        if len(argv) > 4:
            msg += struct.pack(">Q", int(argv[4]))
        print((msg + bytes.fromhex(argv[3])).hex())
    elif cmd == "app-keys":
        import json
        print(json.dumps(app_keys(open(argv[2], "rb").read(), open(argv[3], "rb").read(),
                                  bytes.fromhex(argv[4]), bytes.fromhex(argv[5]))))
    elif cmd == "app-key-msg":
        print((b"dstack-kms-issued:" + bytes.fromhex(argv[2])
               + k256_compressed(bytes.fromhex(argv[3]))).hex())
    elif cmd == "root-scalar":
        print(p256_scalar(open(argv[2], "rb").read()).hex())
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
