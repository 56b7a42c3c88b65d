// abi.js - Solidity ABI v2 encoder/decoder driven by the compiled ABI's
// parameter descriptions ({type, components}), plus keccak-based selectors.
// Values: address/bytesN/bytes as 0x-hex strings, bool as true/false,
// uintN/intN as BigInt (or decimal/0x strings when encoding), string as JS
// string, arrays as JS arrays, tuples as arrays in component order.
// Must never silently truncate or pad a value: wrong lengths throw.
// spec: auth-eth §2.2, §2.3 (the BootInfo tuple and the (bool,string) return)
'use strict';

const { keccak256 } = require('js-sha3');

const WORD = 32;

function keccakHex(data) {
  // data: Buffer or string (UTF-8)
  return '0x' + keccak256(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
}

// canonical type string of an ABI parameter ("(address,bytes32,...)[]")
function canonicalType(p) {
  if (p.type.startsWith('tuple')) {
    return '(' + p.components.map(canonicalType).join(',') + ')' + p.type.slice(5);
  }
  return p.type;
}

function signature(item) {
  return item.name + '(' + item.inputs.map(canonicalType).join(',') + ')';
}

function selector(item) {
  return keccakHex(signature(item)).slice(0, 10);
}

function eventTopic(item) {
  return keccakHex(signature(item));
}

function hexToBuf(s, what) {
  if (typeof s !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(s)) {
    throw new Error(`${what}: expected 0x-prefixed hex with an even number of digits, got ${JSON.stringify(s)}`);
  }
  return Buffer.from(s.slice(2), 'hex');
}

// "uint256[]" -> {base: "uint256", len: null}; "bytes32[3]" -> len 3; null if not an array
function arrayOf(type) {
  const m = /^(.*)\[(\d*)\]$/.exec(type);
  if (!m) return null;
  return { base: m[1], len: m[2] === '' ? null : Number(m[2]) };
}

function childParam(p, base) {
  return { type: base, components: p.components };
}

function isDynamic(p) {
  const a = arrayOf(p.type);
  if (a) return a.len === null || isDynamic(childParam(p, a.base));
  if (p.type === 'string' || p.type === 'bytes') return true;
  if (p.type === 'tuple') return p.components.some(isDynamic);
  return false;
}

function uintWord(v) {
  const b = Buffer.alloc(WORD);
  let x = BigInt(v);
  for (let i = WORD - 1; i >= 0 && x > 0n; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

function padRight(buf) {
  const n = Math.ceil(buf.length / WORD) * WORD;
  const out = Buffer.alloc(n);
  buf.copy(out);
  return out;
}

function toBigInt(v, what) {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|-?[0-9]+)$/.test(v)) return BigInt(v);
  throw new Error(`${what}: not an integer: ${JSON.stringify(v)}`);
}

function encodeStatic(p, v) {
  const t = p.type;
  if (t === 'address') {
    const b = hexToBuf(v, 'address');
    if (b.length !== 20) throw new Error(`address: need 20 bytes, got ${b.length}`);
    return Buffer.concat([Buffer.alloc(12), b]);
  }
  if (t === 'bool') {
    if (v === true || v === 'true') return uintWord(1);
    if (v === false || v === 'false') return uintWord(0);
    throw new Error(`bool: expected true or false, got ${JSON.stringify(v)}`);
  }
  let m = /^bytes(\d+)$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    const b = hexToBuf(v, t);
    if (b.length !== n) throw new Error(`${t}: need exactly ${n} bytes, got ${b.length}`);
    return padRight(b);
  }
  m = /^(u?)int(\d*)$/.exec(t);
  if (m) {
    const bits = BigInt(m[2] || 256);
    let x = toBigInt(v, t);
    if (m[1] === 'u') {
      if (x < 0n || x >= 1n << bits) throw new Error(`${t}: out of range: ${x}`);
    } else {
      if (x < -(1n << (bits - 1n)) || x >= 1n << (bits - 1n)) throw new Error(`${t}: out of range: ${x}`);
      if (x < 0n) x += 1n << 256n;
    }
    return uintWord(x);
  }
  throw new Error(`unsupported ABI type ${t}`);
}

// encode a list of values against a list of params (a tuple body)
function encodeList(params, values) {
  if (!Array.isArray(values) || values.length !== params.length) {
    throw new Error(`expected ${params.length} values, got ${Array.isArray(values) ? values.length : typeof values}`);
  }
  const heads = [];
  const tails = [];
  let headSize = 0;
  for (const p of params) headSize += isDynamic(p) ? WORD : staticSize(p);
  let tailOff = headSize;
  params.forEach((p, i) => {
    const enc = encodeOne(p, values[i]);
    if (isDynamic(p)) {
      heads.push(uintWord(tailOff));
      tails.push(enc);
      tailOff += enc.length;
    } else {
      heads.push(enc);
    }
  });
  return Buffer.concat([...heads, ...tails]);
}

function staticSize(p) {
  const a = arrayOf(p.type);
  if (a) return a.len * staticSize(childParam(p, a.base));
  if (p.type === 'tuple') return p.components.reduce((s, c) => s + staticSize(c), 0);
  return WORD;
}

function encodeOne(p, v) {
  const a = arrayOf(p.type);
  if (a) {
    if (!Array.isArray(v)) throw new Error(`${p.type}: expected an array`);
    if (a.len !== null && v.length !== a.len) throw new Error(`${p.type}: need ${a.len} items, got ${v.length}`);
    const body = encodeList(v.map(() => childParam(p, a.base)), v);
    return a.len === null ? Buffer.concat([uintWord(v.length), body]) : body;
  }
  if (p.type === 'tuple') return encodeList(p.components, v);
  if (p.type === 'string' || p.type === 'bytes') {
    const b = p.type === 'string' ? Buffer.from(String(v), 'utf8') : hexToBuf(v, 'bytes');
    return Buffer.concat([uintWord(b.length), padRight(b)]);
  }
  return encodeStatic(p, v);
}

function encode(params, values) {
  return '0x' + encodeList(params, values).toString('hex');
}

// ---- decoding ----

function readWord(buf, off) {
  if (off < 0 || off + WORD > buf.length) throw new Error(`ABI decode: word at ${off} beyond ${buf.length} bytes`);
  return buf.subarray(off, off + WORD);
}

function wordToBigInt(w) {
  return BigInt('0x' + (w.toString('hex') || '0'));
}

function readOffset(buf, off) {
  const x = wordToBigInt(readWord(buf, off));
  if (x > BigInt(buf.length)) throw new Error(`ABI decode: offset ${x} beyond ${buf.length} bytes`);
  return Number(x);
}

function decodeList(params, buf, base) {
  let off = base;
  return params.map((p) => {
    let v;
    if (isDynamic(p)) {
      v = decodeOne(p, buf, base + readOffset(buf, off));
      off += WORD;
    } else {
      v = decodeOne(p, buf, off);
      off += staticSize(p);
    }
    return v;
  });
}

function decodeOne(p, buf, off) {
  const a = arrayOf(p.type);
  if (a) {
    let n = a.len;
    let start = off;
    if (n === null) {
      n = readOffset(buf, off); // a count is bounded the same way as an offset
      start = off + WORD;
    }
    return decodeList(Array.from({ length: n }, () => childParam(p, a.base)), buf, start);
  }
  if (p.type === 'tuple') return decodeList(p.components, buf, off);
  if (p.type === 'string' || p.type === 'bytes') {
    const len = readOffset(buf, off);
    if (off + WORD + len > buf.length) throw new Error('ABI decode: bytes beyond the data');
    const b = buf.subarray(off + WORD, off + WORD + len);
    return p.type === 'string' ? b.toString('utf8') : '0x' + b.toString('hex');
  }
  const w = readWord(buf, off);
  if (p.type === 'address') return '0x' + w.subarray(12).toString('hex');
  if (p.type === 'bool') return wordToBigInt(w) !== 0n;
  let m = /^bytes(\d+)$/.exec(p.type);
  if (m) return '0x' + w.subarray(0, Number(m[1])).toString('hex');
  m = /^(u?)int(\d*)$/.exec(p.type);
  if (m) {
    let x = wordToBigInt(w);
    if (m[1] === '' && x >= 1n << 255n) x -= 1n << 256n;
    return x;
  }
  throw new Error(`unsupported ABI type ${p.type}`);
}

function decode(params, hex) {
  return decodeList(params, hexToBuf(hex, 'ABI data'), 0);
}

// ---- contract helpers over a compiled ABI ----

// find a function by name and argument count (overloads differ in count here)
function findFunction(abi, name, nargs) {
  const fns = abi.filter((x) => x.type === 'function' && x.name === name);
  if (fns.length === 0) throw new Error(`no function ${name} in the ABI`);
  const f = nargs === undefined && fns.length === 1 ? fns[0] : fns.find((x) => x.inputs.length === nargs);
  if (!f) throw new Error(`no ${name} with ${nargs} arguments (have: ${fns.map(signature).join(', ')})`);
  return f;
}

function encodeCall(abi, name, args) {
  const f = findFunction(abi, name, args.length);
  return selector(f) + encode(f.inputs, args).slice(2);
}

function decodeResult(abi, name, nargs, hex) {
  return decode(findFunction(abi, name, nargs).outputs, hex);
}

// Turn revert data into text: Error(string), Panic(uint256), or a custom error of the ABI.
function decodeRevert(abis, data) {
  if (typeof data !== 'string' || data.length < 10) return null;
  const sel = data.slice(0, 10).toLowerCase();
  const body = '0x' + data.slice(10);
  try {
    if (sel === '0x08c379a0') return decode([{ type: 'string' }], body)[0];
    if (sel === '0x4e487b71') return `panic 0x${decode([{ type: 'uint256' }], body)[0].toString(16)}`;
    for (const abi of abis) {
      for (const e of abi.filter((x) => x.type === 'error')) {
        if (selector(e) === sel) {
          const vals = decode(e.inputs, body).map((v) => (typeof v === 'bigint' ? v.toString() : String(v)));
          return `${e.name}(${vals.join(', ')})`;
        }
      }
    }
  } catch (_) {
    /* fall through: unknown layout */
  }
  return `revert data ${data}`;
}

// EIP-55 checksum form of a 20-byte address
function toChecksumAddress(addr) {
  const hex = hexToBuf(addr, 'address').toString('hex');
  if (hex.length !== 40) throw new Error('address: need 20 bytes');
  const h = keccak256(hex);
  let out = '0x';
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? hex[i].toUpperCase() : hex[i];
  return out;
}

module.exports = {
  keccakHex,
  canonicalType,
  signature,
  selector,
  eventTopic,
  encode,
  decode,
  findFunction,
  encodeCall,
  decodeResult,
  decodeRevert,
  toChecksumAddress,
  hexToBuf,
};
