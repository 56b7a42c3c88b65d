#!/usr/bin/env python3
"""tdx_lite.py — an independent model of TDX `lite` OS image measurement.

Builds test images for the KMS's lite image verification and computes the
registers a TDX module would report for them, without any of the KMS's code:
its own CBOR encoder, TD HOB builder and RTMR replay.

  tdx_lite.py make OUT [--seed N] [--memory-size BYTES] [--qemu-version V]
                       [--tamper kernel|initrd|cmdline|td_hob|mrtd]
                       [--other-image]
      OUT/vm_config.json   the VmConfig (tdx_attestation_variant lite, with
                           tdx_measurement and os_image_hash)
      OUT/boot_events.json the three RTMR0 ACPI DATA events
      OUT/mrs.json         {mrtd, rtmr0, rtmr1, rtmr2} of the booted image
    --tamper F     the document states another F than the image that booted
                   (re-bound in sha256sum.txt and os_image_hash, so only the
                   register comparison can catch it)
    --other-image  the document is another image's (its checksum file and
                   measurement), os_image_hash stays the booted image's

  tdx_lite.py registers VM_CONFIG_JSON EVENT_LOG_JSON
      prints {mrtd, rtmr0, rtmr1, rtmr2} predicted for a vm_config and a
      TdxEvent log (used on a real boot to check this model against the
      registers of its quote)
"""
import base64
import hashlib
import json
import os
import random
import struct
import sys

MEM_2G = 0x80000000
MEM_STABLE_MIN = 0xB0000000


def sha384(b):
    return hashlib.sha384(b).digest()


def replay(entries):
    mr = bytes(48)
    for e in entries:
        mr = sha384(mr + e)
    return mr


# --- CBOR (RFC 8949), definite lengths only -------------------------------
def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor(v):
    if isinstance(v, bool):
        raise TypeError("no booleans here")
    if isinstance(v, int):
        return cbor_head(0, v)
    if isinstance(v, bytes):
        return cbor_head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return cbor_head(3, len(b)) + b
    if isinstance(v, dict):
        out = cbor_head(5, len(v))
        for k, x in v.items():
            out += cbor(k) + cbor(x)
        return out
    raise TypeError(type(v))


def cbor_decode(b):
    """Just enough to read a document back (for `registers`)."""
    def item(i):
        ib = b[i]
        major, ai = ib >> 5, ib & 31
        i += 1
        if ai < 24:
            n = ai
        else:
            size = 1 << (ai - 24)
            n = int.from_bytes(b[i:i + size], "big")
            i += size
        if major == 0:
            return n, i
        if major in (2, 3):
            s = b[i:i + n]
            return (s if major == 2 else s.decode()), i + n
        if major == 5:
            d = {}
            for _ in range(n):
                k, i = item(i)
                d[k], i = item(i)
            return d, i
        raise ValueError("unsupported CBOR major %d" % major)
    v, _ = item(0)
    return v


# --- the measurement model ------------------------------------------------
def guid_bytes(g):
    parts = g.split("-")
    out = b""
    for i, p in enumerate(parts):
        raw = bytes.fromhex(p)
        out += raw[::-1] if i <= 2 else raw
    return out


def efi_var(guid, name):
    return sha384(guid_bytes(guid) + struct.pack("<QQ", len(name), 0) + name.encode("utf-16-le"))


EFI_GLOBAL = "8BE4DF61-93CA-11D2-AA0D-00E098032B8C"
EFI_IMAGE_SECURITY = "D719B2CB-3D3A-4596-A3BC-DAD00E67656F"
CFV_IMAGE = bytes.fromhex(
    "344BC51C980BA621AAA00DA3ED7436F7D6E549197DFE699515DFA2C6583D95E6412AF21C097D473155875FFD561D6790")
BOOT0000 = bytes.fromhex(
    "23ADA07F5261F12F34A0BD8E46760962D6B4D576A416F1FEA1C64BC656B1D28EACF7047AE6E967C58FD2A98BFA74C298")


def varuint(n):
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def read_varuints(b):
    vals, cur, shift = [], 0, 0
    for byte in b:
        cur |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            vals.append(cur)
            cur, shift = 0, 0
    return vals


def td_hob_hash(witness, memory_size):
    v = read_varuints(witness)
    base, delta, count = v[0], v[1], v[2]
    pairs = [(v[3 + 2 * i], v[4 + 2 * i]) for i in range(count)]
    # the memory map: everything unaccepted, then each witness range accepted
    ranges = [[False, 0, memory_size]]
    for sd, pages in pairs:
        s, e = (base + sd) * 4096, (base + sd + pages) * 4096
        if s >= e:
            continue
        nxt = []
        for acc, rs, re_ in ranges:
            if acc or re_ <= s or rs >= e:
                nxt.append([acc, rs, re_])
                continue
            if rs < s:
                nxt.append([False, rs, s])
            if re_ > e:
                nxt.append([False, e, re_])
        nxt.append([True, s, e])
        nxt.sort(key=lambda r: r[1])
        ranges = nxt

    def resource(rtype, start, length):
        return (struct.pack("<HH4x", 3, 48) + bytes(16) + struct.pack("<B3xI", rtype, 7)
                + struct.pack("<QQ", start, length))

    body = b""
    for acc, s, e in ranges[:-1]:
        body += resource(0 if acc else 7, s, e - s)
    _, ls, le = ranges[-1]
    if memory_size >= MEM_STABLE_MIN:
        if ls < MEM_2G:
            body += resource(7, ls, MEM_2G - ls)
        if le > MEM_2G:
            body += resource(7, 1 << 32, le - MEM_2G)
    else:
        body += resource(7, ls, le - ls)
    hob_len = 56 + len(body)
    end_of_list = (base + delta) * 4096 + hob_len + 8
    handoff = struct.pack("<HH4xI4x", 1, 56, 9) + bytes(32) + struct.pack("<Q", end_of_list)
    return sha384(handoff + body)


def registers(doc, vm, acpi):
    ver = tuple(int(x) for x in vm.get("qemu_version", "9.1.0").split("."))
    two_pass = vm.get("qemu_single_pass_add_pages")
    if two_pass is None:
        two_pass = (8, 0, 0) <= ver < (9, 0, 0)
    tdvf, img = doc["tdvf"], doc["image"]
    mrtd = tdvf["mrtd"]["two_pass" if two_pass else "single_pass"]
    rtmr0 = replay([
        td_hob_hash(tdvf["td_hob"], vm["memory_size"]), CFV_IMAGE,
        efi_var(EFI_GLOBAL, "SecureBoot"), efi_var(EFI_GLOBAL, "PK"), efi_var(EFI_GLOBAL, "KEK"),
        efi_var(EFI_IMAGE_SECURITY, "db"), efi_var(EFI_IMAGE_SECURITY, "dbx"),
        sha384(bytes(4)), acpi["acpi-loader"], acpi["acpi-rsdp"], acpi["acpi-tables"],
        sha384(bytes(2)), BOOT0000])
    rtmr1 = replay([img["kernel_authenticode"], sha384(b"Calling EFI Application from Boot Option"),
                    sha384(bytes(4)), sha384(b"Exit Boot Services Invocation"),
                    sha384(b"Exit Boot Services Returned with Success")])
    rtmr2 = replay([img["cmdline_sha384"], img["initrd_sha384"]])
    return {"mrtd": mrtd.hex(), "rtmr0": rtmr0.hex(), "rtmr1": rtmr1.hex(), "rtmr2": rtmr2.hex()}


# --- images -----------------------------------------------------------------
def document(rng):
    r = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
    base = 0x800 + rng.randrange(16)
    ranges = [(0, 6), (9, 2), (11, 2), (16, 16 + rng.randrange(8))]
    witness = varuint(base) + varuint(9) + varuint(len(ranges))
    for sd, pages in ranges:
        witness += varuint(sd) + varuint(pages)
    cmdline = "console=ttyS0 init=/init dstack.seed=%d initrd=initrd" % rng.randrange(1 << 30)
    return {
        "version": 3,
        "image": {
            "cmdline_sha384": sha384((cmdline + "\0").encode("utf-16-le")),
            "kernel_authenticode": r(48),
            "initrd_sha384": r(48),
        },
        "tdvf": {"ovmf": "pre202505", "mrtd": {"single_pass": r(48), "two_pass": r(48)},
                 "td_hob": witness},
    }


def bind(doc_cbor, rng):
    """sha256sum.txt listing the measurement (and other image files)."""
    lines = [hashlib.sha256(b"kernel%d" % rng.randrange(1 << 30)).hexdigest() + "  bzImage",
             hashlib.sha256(doc_cbor).hexdigest() + "  measurement.tdx.cbor"]
    return ("\n".join(lines) + "\n").encode()


def cmd_make(out, seed, memory_size, qemu, tamper, other_image):
    rng = random.Random(seed)
    doc = document(rng)
    acpi = {n: sha384(b"%s-%d" % (n.encode(), seed)) for n in ("acpi-loader", "acpi-rsdp", "acpi-tables")}
    vm = {"cpu_count": 2, "memory_size": memory_size, "qemu_version": qemu, "image": "dstack-test",
          "ovmf_variant": "pre202505", "tdx_attestation_variant": "lite"}
    mrs = registers(doc, vm, acpi)
    doc_cbor = cbor(doc)
    checksum = bind(doc_cbor, rng)
    os_image_hash = hashlib.sha256(checksum).hexdigest()
    if tamper:
        field = {"kernel": ("image", "kernel_authenticode"), "initrd": ("image", "initrd_sha384"),
                 "cmdline": ("image", "cmdline_sha384")}.get(tamper)
        if field:
            doc[field[0]][field[1]] = sha384(b"another " + tamper.encode())
        elif tamper == "mrtd":
            key = "two_pass" if qemu.startswith("8.") else "single_pass"
            doc["tdvf"]["mrtd"][key] = sha384(b"another firmware")
        elif tamper == "td_hob":
            doc["tdvf"]["td_hob"] = doc["tdvf"]["td_hob"][:-1] + bytes([doc["tdvf"]["td_hob"][-1] + 1])
        else:
            sys.exit("unknown --tamper %s" % tamper)
        doc_cbor = cbor(doc)
        checksum = bind(doc_cbor, rng)
        os_image_hash = hashlib.sha256(checksum).hexdigest()
    if other_image:
        other = document(random.Random(seed + 1000))
        doc_cbor = cbor(other)
        checksum = bind(doc_cbor, random.Random(seed + 1000))
    vm["os_image_hash"] = os_image_hash
    vm["tdx_measurement"] = {"checksum_file": base64.b64encode(checksum).decode(),
                             "measurement": base64.b64encode(doc_cbor).decode()}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vm_config.json"), "w") as f:
        json.dump(vm, f, separators=(",", ":"))
    with open(os.path.join(out, "boot_events.json"), "w") as f:
        json.dump([{"imr": 0, "event_type": 10, "digest": acpi[n].hex(), "event": n,
                    "event_payload": b"ACPI DATA".hex()} for n in ("acpi-loader", "acpi-rsdp", "acpi-tables")], f)
    with open(os.path.join(out, "mrs.json"), "w") as f:
        json.dump(mrs, f)


def cmd_registers(vm_path, log_path):
    vm = json.load(open(vm_path))
    if isinstance(vm, str):
        vm = json.loads(vm)
    log = json.load(open(log_path))
    if isinstance(log, str):
        log = json.loads(log)
    acpi = {e["event"]: bytes.fromhex(e["digest"]) for e in log
            if e["imr"] == 0 and e["event_type"] == 10 and e["event"].startswith("acpi-")}
    doc = cbor_decode(base64.b64decode(vm["tdx_measurement"]["measurement"]))
    print(json.dumps(registers(doc, vm, acpi)))


def main(argv):
    if len(argv) >= 2 and argv[1] == "make":
        args = argv[3:]
        opts = {"--seed": "1", "--memory-size": str(MEM_2G), "--qemu-version": "8.2.2",
                "--tamper": "", "--other-image": None}
        i = 0
        while i < len(args):
            if args[i] == "--other-image":
                opts["--other-image"] = True
                i += 1
            elif args[i] in opts and i + 1 < len(args):
                opts[args[i]] = args[i + 1]
                i += 2
            else:
                sys.exit("unknown option %s" % args[i])
        cmd_make(argv[2], int(opts["--seed"]), int(opts["--memory-size"]), opts["--qemu-version"],
                 opts["--tamper"], bool(opts["--other-image"]))
    elif len(argv) == 4 and argv[1] == "registers":
        cmd_registers(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
