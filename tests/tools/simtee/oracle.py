#!/usr/bin/python3
"""oracle.py — an independent DCAP / RA-TLS checker for simtee's output (TEST-ONLY).

Written from attestation.md §1-§4 with python3-cryptography only (no project
code, no simtee code), so simtee's quotes, collateral and certificates are
checked against the spec and not against themselves. It is itself checked
against the shared vectors (tests/vectors) before it judges simtee.

  quote QUOTE COLLATERAL ROOT_DER NOW    -> {"status","advisory_ids","fmspc","ppid"}
                                            or "error: <reason>" (exit 1)
  ratls CERT                             -> the attestation's identity (JSON)
  sgx-ext CERT_PEM                       -> the PCK SGX extension (JSON)
  sig-der RAW_HEX                        -> DER ECDSA signature (hex) of raw r||s
  derive SEED_HEX LABEL                  -> the P-256 scalar simtee pki documents:
                                            HKDF-SHA256(salt "RATLS", seed,
                                            "dstack-simtee pki v1:" LABEL 0x00)
  key-hex KEY_PEM                        -> the private scalar of a PEM key (hex)
"""
import calendar
import hashlib
import json
import re
import struct
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

INTEL_QE_VENDOR = bytes.fromhex("939A7233F79C4CA9940A0DB3957F0607")
SGX_EXT = "1.2.840.113741.1.13.1"
SEVERITY = ["UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
            "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded",
            "Revoked"]


class Fail(Exception):
    pass


def raw_ok(pub, sig, data):
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
    try:
        pub.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def unix(dt):
    """python3-cryptography 38 (Debian 12) returns naive UTC datetimes."""
    return calendar.timegm(dt.utctimetuple())


def rfc3339(s):
    import datetime
    return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp())


# ---- DER ----
def tlv(b, i):
    tag, ln = b[i], b[i + 1]
    i += 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, b[i:i + ln], i + ln


def items(b):
    out, i = [], 0
    while i < len(b):
        t, v, i = tlv(b, i)
        out.append((t, v))
    return out


def oid(v):
    arcs = [v[0] // 40, v[0] % 40]
    x = 0
    for c in v[1:]:
        x = (x << 7) | (c & 0x7F)
        if not c & 0x80:
            arcs.append(x)
            x = 0
    return ".".join(map(str, arcs))


def sgx_extension(cert):
    """attestation §1.4: {suffix: (tag, value)} for the leaf's SGX extension."""
    try:
        raw = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXT)).value.value
    except x509.ExtensionNotFound:
        raise Fail("PCK leaf has no SGX extension")
    out = {}

    def walk(seq):
        for _, pair in items(seq):
            (t1, o), (t2, val) = items(pair)[:2]
            key = oid(o)[len(SGX_EXT):]
            out[key] = (t2, val)
            if t2 == 0x30 and key in (".2", ".7"):
                walk(val)
    walk(tlv(raw, 0)[1])
    res = {
        "ppid": out[".1"][1].hex(),
        "cpusvn": out[".2.18"][1].hex(),
        "pcesvn": int.from_bytes(out[".2.17"][1], "big"),
        "comp": [int.from_bytes(out[".2.%d" % k][1], "big") for k in range(1, 17)],
        "pce_id": out[".3"][1].hex(),
        "fmspc": out[".4"][1].hex(),
        "sgx_type": out[".5"][1][0],
    }
    return res


# ---- quote (attestation §1) ----
def parse_quote(q):
    ver, akt, tee = struct.unpack_from("<HHI", q, 0)
    if ver == 5:
        btype, bsize = struct.unpack_from("<HI", q, 48)
        off = 54
    else:
        btype, bsize, off = 2, 584, 48
    body, signed = q[off:off + bsize], q[:off + bsize]
    p = off + bsize
    (alen,) = struct.unpack_from("<I", q, p)
    auth = q[p + 4:p + 4 + alen]
    ctype, csize = struct.unpack_from("<HI", auth, 128)
    cd = auth[134:134 + csize]
    (qal,) = struct.unpack_from("<H", cd, 448)
    p2 = 450 + qal
    itype, isize = struct.unpack_from("<HI", cd, p2)
    f = lambda o, n: body[o:o + n]
    return dict(version=ver, key_type=akt, tee_type=tee, vendor=q[12:28], body_type=btype,
                signed=signed, sig=auth[:64], attkey=auth[64:128], cert_type=ctype,
                qe_report=cd[:384], qe_sig=cd[384:448], qe_auth=cd[450:450 + qal],
                inner_type=itype, pem=cd[p2 + 6:p2 + 6 + isize],
                tee_tcb_svn=f(0, 16), mr_signer_seam=f(64, 48), seam_attr=f(112, 8),
                td_attr=f(120, 8), mr_td=f(136, 48), mr_config_id=f(184, 48),
                mr_owner=f(232, 48), mr_owner_config=f(280, 48),
                rtmr=[f(328 + 48 * i, 48) for i in range(4)], report_data=f(520, 64),
                mr_service_td=f(600, 48) if btype == 3 else b"")


def load_certs(pem):
    if isinstance(pem, str):
        pem = pem.encode()
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    return [x509.load_pem_x509_certificate(b) for b in blocks]


def issued_by(c, issuer):
    if c.issuer != issuer.subject:
        return False
    try:
        issuer.public_key().verify(c.signature, c.tbs_certificate_bytes,
                                   ec.ECDSA(c.signature_hash_algorithm))
        return True
    except InvalidSignature:
        return False


def check_time(c, now, what):
    if now < unix(c.not_valid_before):
        raise Fail("%s: certificate not yet valid" % what)
    if now > unix(c.not_valid_after):
        raise Fail("%s: certificate expired" % what)


def check_chain(certs, root, crls, now, what):
    """attestation §2.4: leaf -> intermediates -> the pinned anchor, CRLs for every
    non-anchor certificate (unknown status = deny), CRL expiry enforced."""
    chain = [c for c in certs if c.subject != c.issuer]  # never trust a root copy
    path = chain + [root]
    for i, c in enumerate(chain):
        if not issued_by(c, path[i + 1]):
            raise Fail("%s: no chain to the trust anchor" % what)
    for c in path:
        check_time(c, now, what)
    for i, c in enumerate(chain):
        issuer = path[i + 1]
        crl = next((l for l in crls if l.issuer == issuer.subject), None)
        if crl is None:
            raise Fail("%s: no CRL from the issuer" % what)
        if not crl.is_signature_valid(issuer.public_key()):
            raise Fail("%s: CRL signature invalid" % what)
        if unix(crl.next_update) < now:
            raise Fail("%s: CRL expired" % what)
        if crl.get_revoked_certificate_by_serial_number(c.serial_number) is not None:
            raise Fail("%s: certificate revoked" % what)
    return chain[0]


def merge(a, b):
    st = a[0] if SEVERITY.index(a[0]) >= SEVERITY.index(b[0]) else b[0]
    adv = list(a[1])
    for x in b[1]:
        if x not in adv:
            adv.append(x)
    return st, adv


def verify_quote(q, col, root_der, now):
    root = x509.load_der_x509_certificate(root_der)
    crls = [x509.load_der_x509_crl(bytes.fromhex(col["root_ca_crl"])),
            x509.load_der_x509_crl(bytes.fromhex(col["pck_crl"]))]
    # step 0: the root CRL (the root is an end entity for it)
    rcrl = next((l for l in crls if l.issuer == root.subject), None)
    if rcrl is None or not rcrl.is_signature_valid(root.public_key()):
        raise Fail("no valid root CA CRL from the trust anchor")
    if unix(rcrl.next_update) < now:
        raise Fail("root CA CRL expired")
    if rcrl.get_revoked_certificate_by_serial_number(root.serial_number) is not None:
        raise Fail("root CA revoked")
    Q = parse_quote(q)
    if Q["version"] not in (4, 5) or Q["tee_type"] != 0x81 or Q["key_type"] != 2:
        raise Fail("bad quote header")
    if Q["vendor"] != INTEL_QE_VENDOR:
        raise Fail("bad QE vendor id")
    # step 1: TCB info
    tcb = json.loads(col["tcb_info"])
    if now < rfc3339(tcb["issueDate"]):
        raise Fail("TCBInfo issue date in the future")
    if now > rfc3339(tcb["nextUpdate"]):
        raise Fail("TCBInfo expired")
    leaf = check_chain(load_certs(col["tcb_info_issuer_chain"]), root, crls, now, "TCB info chain")
    if not raw_ok(leaf.public_key(), bytes.fromhex(col["tcb_info_signature"]),
                  col["tcb_info"].encode()):
        raise Fail("tcb_info signature invalid")
    # step 2: QE identity
    qid = json.loads(col["qe_identity"])
    if now < rfc3339(qid["issueDate"]):
        raise Fail("QE identity issue date in the future")
    if now > rfc3339(qid["nextUpdate"]):
        raise Fail("QE identity expired")
    leaf = check_chain(load_certs(col["qe_identity_issuer_chain"]), root, crls, now,
                       "QE identity chain")
    if not raw_ok(leaf.public_key(), bytes.fromhex(col["qe_identity_signature"]),
                  col["qe_identity"].encode()):
        raise Fail("qe_identity signature invalid")
    if qid["id"] != "TD_QE" or qid["version"] not in (2, 3):
        raise Fail("QE identity is not TD_QE v2/v3")
    # step 3: PCK chain
    if col.get("pck_certificate_chain"):
        pem = col["pck_certificate_chain"]
    else:
        if Q["cert_type"] != 6 or Q["inner_type"] != 5:
            raise Fail("unsupported certification data")
        pem = Q["pem"]
    pck = check_chain(load_certs(pem), root, crls, now, "PCK chain")
    ext = sgx_extension(pck)
    # step 4, 5: QE report signature and binding
    if not raw_ok(pck.public_key(), Q["qe_sig"], Q["qe_report"]):
        raise Fail("QE report signature invalid")
    if len(Q["qe_auth"]) != 32 or \
            hashlib.sha256(Q["attkey"] + Q["qe_auth"]).digest() != Q["qe_report"][320:352]:
        raise Fail("QE report data binding mismatch")
    # step 6: QE identity policy and QE TCB
    r = Q["qe_report"]
    if r[128:160] != bytes.fromhex(qid["mrsigner"]):
        raise Fail("QE MRSIGNER mismatch")
    if r[48] & 2:
        raise Fail("debug QE")
    if struct.unpack_from("<H", r, 256)[0] != qid["isvprodid"]:
        raise Fail("QE ISVPRODID mismatch")
    ms, msm = (int.from_bytes(bytes.fromhex(qid[k]), "little") for k in ("miscselect",
                                                                         "miscselectMask"))
    if struct.unpack_from("<I", r, 16)[0] & msm != ms & msm:
        raise Fail("QE MISCSELECT mismatch")
    at, atm = bytes.fromhex(qid["attributes"]), bytes.fromhex(qid["attributesMask"])
    if any((r[48 + i] & atm[i]) != (at[i] & atm[i]) for i in range(16)):
        raise Fail("QE ATTRIBUTES mismatch")
    qe_svn = struct.unpack_from("<H", r, 258)[0]
    lvl = next((l for l in qid["tcbLevels"] if qe_svn >= l["tcb"]["isvsvn"]), None)
    if lvl is None:
        raise Fail("QE ISVSVN below minimum")
    qe_status = (lvl["tcbStatus"], lvl.get("advisoryIDs", []))
    # step 7: quote signature
    att = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + Q["attkey"])
    if not raw_ok(att, Q["sig"], Q["signed"]):
        raise Fail("quote signature invalid")
    # step 8: platform TCB
    if bytes.fromhex(ext["fmspc"]) != bytes.fromhex(tcb["fmspc"]):
        raise Fail("FMSPC mismatch")
    if tcb["id"] != "TDX" or tcb["version"] < 3:
        raise Fail("TCB info is not TDX v3")

    def key(l):
        t = l["tcb"]
        return ([c["svn"] for c in t["sgxtcbcomponents"]], t["pcesvn"],
                [c["svn"] for c in t.get("tdxtcbcomponents", [])])
    plat = None
    cpusvn = bytes.fromhex(ext["cpusvn"])
    for l in sorted(tcb["tcbLevels"], key=key, reverse=True):
        sgx, pce, tdx = key(l)
        if len(sgx) != 16 or len(tdx) != 16:
            raise Fail("TCB level without 16 components")
        if ext["pcesvn"] >= pce and all(cpusvn[i] >= sgx[i] for i in range(16)) and \
                all(Q["tee_tcb_svn"][i] >= tdx[i] for i in range(16)):
            plat = (l["tcbStatus"], l.get("advisoryIDs", []))
            break
    if plat is None:
        raise Fail("No matching TCB level found")
    mod = tcb["tdxModule"]
    mod_levels = None
    ver = Q["tee_tcb_svn"][1]
    if ver > 0 and tcb.get("tdxModuleIdentities"):
        want = "TDX_%02X" % ver
        mod = next((m for m in tcb["tdxModuleIdentities"] if m["id"].upper() == want), None)
        if mod is None:
            raise Fail("TDX module identity %s missing" % want)
        mod_levels = mod["tcbLevels"]
    if Q["mr_signer_seam"] != bytes.fromhex(mod["mrsigner"]):
        raise Fail("TDX module MRSIGNER mismatch")
    ea, em = bytes.fromhex(mod["attributes"]), bytes.fromhex(mod["attributesMask"])
    for i in range(8):
        a = Q["seam_attr"][i]
        if a & em[i] != ea[i] & em[i] or a & ~em[i] & 0xFF:
            raise Fail("TDX module attributes mismatch")
    if mod_levels is not None:
        ml = next((l for l in mod_levels if Q["tee_tcb_svn"][0] >= l["tcb"]["isvsvn"]), None)
        if ml is None:
            raise Fail("TDX module ISVSVN below minimum")
        plat = merge(plat, (ml["tcbStatus"], ml.get("advisoryIDs", [])))
    # step 9: merge
    status, adv = merge(plat, qe_status)
    if status == "Revoked":
        raise Fail("TCB status Revoked")
    # step 10 and dstack's validate_tcb
    ta = int.from_bytes(Q["td_attr"], "little")
    if ta & 1:
        raise Fail("debug TD")
    if ta & 0xFE:
        raise Fail("TUD bits set")
    if not ta & (1 << 28):
        raise Fail("SEPT_VE_DISABLE not set")
    if ta & (0xFFFFF << 8) or ta & (1 << 29) or ta & (0x7FFFFFFF << 32):
        raise Fail("reserved TD attributes set")
    if any(Q["mr_signer_seam"]):
        raise Fail("MRSIGNERSEAM not zero")
    if Q["body_type"] == 3 and any(Q["mr_service_td"]):
        raise Fail("MRSERVICETD not zero")
    return {"status": status, "advisory_ids": adv, "fmspc": ext["fmspc"].lower(),
            "ppid": ext["ppid"]}


# ---- RA-TLS (attestation §3, §4) ----
def compact(b, i):
    m = b[i] & 3
    if m == 0:
        return b[i] >> 2, i + 1
    if m == 1:
        return int.from_bytes(b[i:i + 2], "little") >> 2, i + 2
    if m == 2:
        return int.from_bytes(b[i:i + 4], "little") >> 2, i + 4
    n = (b[i] >> 2) + 4
    return int.from_bytes(b[i + 1:i + 1 + n], "little"), i + 1 + n


def vec(b, i):
    n, i = compact(b, i)
    if i + n > len(b):
        raise Fail("SCALE vector past the end")
    return b[i:i + n], i + n


def decode_v0(b):
    if b[0] != 0 or b[1] != 0:
        raise Fail("not a V0 DstackTdx attestation")
    quote, i = vec(b, 2)
    n, i = compact(b, i)
    log = []
    for _ in range(n):
        imr, typ = struct.unpack_from("<II", b, i)
        i += 8
        d, i = vec(b, i)
        name, i = vec(b, i)
        p, i = vec(b, i)
        log.append((imr, typ, d, name.decode(), p))
    n, i = compact(b, i)
    rt = []
    for _ in range(n):
        name, i = vec(b, i)
        p, i = vec(b, i)
        rt.append((name.decode(), p))
    rd = b[i:i + 64]
    i += 64
    cfg, i = vec(b, i)
    if i != len(b):
        raise Fail("trailing bytes after the V0 attestation")
    return dict(quote=quote, event_log=log, runtime=rt, report_data=rd, config=cfg.decode())


def unwrap(cert, dotted):
    try:
        v = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(dotted)).value.value
    except x509.ExtensionNotFound:
        return None
    t, inner, end = tlv(v, 0)
    if t != 0x04 or end != len(v):
        raise Fail("extension %s is not a wrapped OCTET STRING" % dotted)
    return inner


def digest_v1(name, payload):
    return hashlib.sha384(b"\x01\x00\x00\x08:" + name.encode() + b":" + payload).digest()


def replay(events, stop=None):
    mr = bytes(48)
    for name, p in events:
        mr = hashlib.sha384(mr + digest_v1(name, p)).digest()
        if stop and name == stop:
            break
    return mr


def find_event(events, name):
    for n, p in events:
        if n == "system-ready":
            break
        if n == name:
            return p
    return b""


def ratls(cert_pem):
    cert = x509.load_pem_x509_certificate(cert_pem)
    att = unwrap(cert, "1.3.6.1.4.1.62397.1.8")
    if att is not None:
        A = decode_v0(att)
        form = "v0"
    else:
        q = unwrap(cert, "1.3.6.1.4.1.62397.1.1")
        log = unwrap(cert, "1.3.6.1.4.1.62397.1.2")
        if q is None or log is None:
            raise Fail("no attestation")
        evs = json.loads(log)
        rt = [(e["event"], bytes.fromhex(e["event_payload"])) for e in evs
              if e["event_type"] == 0x08000001]
        A = dict(quote=q, event_log=[], runtime=rt, report_data=parse_quote(q)["report_data"],
                 config="")
        form = "legacy"
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    if hashlib.sha512(b"ratls-cert:" + spki).digest() != A["report_data"]:
        raise Fail("report data mismatch")
    Q = parse_quote(A["quote"])
    if Q["report_data"] != A["report_data"]:
        raise Fail("tdx report_data mismatch")
    if replay(A["runtime"]) != Q["rtmr"][3]:
        raise Fail("RTMR3 mismatch")
    pck = load_certs(Q["pem"])[0]
    ppid = bytes.fromhex(sgx_extension(pck)["ppid"])

    def info(boot):
        kp = b"" if boot else find_event(A["runtime"], "key-provider")
        mkp = hashlib.sha256(kp).digest() if kp else bytes(32)
        base = Q["mr_td"] + Q["rtmr"][0] + Q["rtmr"][1] + Q["rtmr"][2]
        r3 = replay(A["runtime"], "boot-mr-done" if boot else None)
        extra = Q["mr_config_id"] + Q["mr_owner"] + Q["mr_owner_config"]
        agg = base + r3 + (extra if any(extra) else b"")
        return {"mr_system": hashlib.sha256(base + mkp).hexdigest(),
                "mr_aggregated": hashlib.sha256(agg).hexdigest(), "key_provider_info": kp.hex()}
    out = {"form": form,
           "app_id": find_event(A["runtime"], "app-id").hex(),
           "compose_hash": find_event(A["runtime"], "compose-hash").hex(),
           "instance_id": find_event(A["runtime"], "instance-id").hex(),
           "device_id": hashlib.sha256(ppid).hexdigest(),
           "events": [n for n, _ in A["runtime"]],
           "stripped": all(len(e[2]) == 0 for e in A["event_log"] if e[0] == 3),
           "config": A["config"], "runtime": info(False), "boottime": info(True)}
    return out


def main():
    cmd = sys.argv[1]
    try:
        if cmd == "quote":
            q = open(sys.argv[2], "rb").read()
            col = json.load(open(sys.argv[3]))
            out = verify_quote(q, col, open(sys.argv[4], "rb").read(), int(sys.argv[5]))
        elif cmd == "ratls":
            out = ratls(open(sys.argv[2], "rb").read())
        elif cmd == "sgx-ext":
            out = sgx_extension(load_certs(open(sys.argv[2], "rb").read())[0])
        elif cmd == "derive":
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
            info = b"dstack-simtee pki v1:" + sys.argv[3].encode() + b"\x00"
            print(HKDF(algorithm=hashes.SHA256(), length=32, salt=b"RATLS",
                       info=info).derive(bytes.fromhex(sys.argv[2])).hex())
            return 0
        elif cmd == "key-hex":
            k = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
            print("%064x" % k.private_numbers().private_value)
            return 0
        elif cmd == "sig-der":
            raw = bytes.fromhex(sys.argv[2])
            print(encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                       int.from_bytes(raw[32:], "big")).hex())
            return 0
        else:
            print(__doc__)
            return 2
    except Fail as e:
        print("error: %s" % e)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
