// eth.js - JSON-RPC over HTTP(S), compiled artifacts, and transaction
// senders for deploy.js and manage.js.
// Two ways to send: "unlocked" (eth_sendTransaction from an account the node
// holds - anvil's dev accounts, no signing) and "cast" (npm
// @foundry-rs/cast signs; for real chains: a keystore, or a raw key read
// from an environment variable).
// Must never print a private key or an RPC URL's path/query (API keys), and
// every wait is bounded.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { keccak256 } = require('js-sha3');
const http = require('http');
const https = require('https');
const { spawn } = require('child_process');
const abi = require('./abi');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = process.env.CONTRACTS_BUILD_DIR || path.join(ROOT, 'build');

// scheme://host[:port] only - never log a path or query
function safeUrl(url) {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch (_) {
    return 'configured';
  }
}

function rpcRaw(url, payload, timeoutMs) {
  return new Promise((resolve, reject) => {
    let u;
    try {
      u = new URL(url);
    } catch (_) {
      reject(new Error('bad RPC URL'));
      return;
    }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
    if (!mod) {
      reject(new Error(`unsupported RPC URL scheme ${u.protocol}`));
      return;
    }
    const body = Buffer.from(JSON.stringify(payload));
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        let size = 0;
        res.on('data', (c) => {
          size += c.length;
          if (size > 64 * 1024 * 1024) req.destroy(new Error('RPC answer too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`RPC ${safeUrl(url)}: HTTP ${res.statusCode}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (_) {
            reject(new Error(`RPC ${safeUrl(url)}: answer is not JSON`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`RPC ${safeUrl(url)}: timeout after ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new Error(`RPC ${safeUrl(url)}: ${e.message}`)));
    req.end(body);
  });
}

class RpcError extends Error {
  constructor(method, err) {
    super(`${method}: ${err.message || JSON.stringify(err)}`);
    this.code = err.code;
    this.data = err.data;
  }
}

class Rpc {
  constructor(url, timeoutMs = 30000) {
    this.url = url;
    this.timeoutMs = timeoutMs;
    this.id = 0;
  }

  async call(method, params = []) {
    const ans = await rpcRaw(this.url, { jsonrpc: '2.0', id: ++this.id, method, params }, this.timeoutMs);
    if (ans.error) throw new RpcError(method, ans.error);
    return ans.result;
  }

  // eth_call; returns the hex result or throws RpcError (with .data on revert)
  ethCall(to, data, from) {
    const tx = { to, data };
    if (from) tx.from = from;
    return this.call('eth_call', [tx, 'latest']);
  }

  async waitReceipt(hash, timeoutMs) {
    const end = Date.now() + timeoutMs;
    let delay = 50;
    for (;;) {
      const r = await this.call('eth_getTransactionReceipt', [hash]);
      if (r) return r;
      if (Date.now() > end) throw new Error(`no receipt for ${hash} after ${timeoutMs} ms`);
      await new Promise((ok) => setTimeout(ok, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

// ---- artifacts written by compile.js ----

function loadArtifact(name) {
  const file = path.join(BUILD, `${name}.json`);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} missing: run "node contracts/scripts/compile.js" first`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// every ABI we know, for decoding custom errors in reverts
function allAbis() {
  return ['KmsPolicy', 'AppPolicy', 'ERC1967Proxy']
    .map((n) => {
      try {
        return loadArtifact(n).abi;
      } catch (_) {
        return [];
      }
    });
}

function explain(e) {
  const reason = e && e.data ? abi.decodeRevert(allAbis(), typeof e.data === 'string' ? e.data : e.data.data) : null;
  return reason ? `${e.message} (${reason})` : e.message;
}

// ---- senders ----

function castBinary() {
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  const plat = process.platform === 'win32' ? 'win32' : process.platform;
  const pkg = `@foundry-rs/cast-${plat}-${arch}`;
  const exe = process.platform === 'win32' ? 'cast.exe' : 'cast';
  let dir;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [ROOT] }));
  } catch (_) {
    throw new Error(`${pkg} is not installed (run scripts/install-npm-deps.sh)`);
  }
  return path.join(dir, 'bin', exe);
}

function runCast(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(castBinary(), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`cast send failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

// Write the key in opts.privateKeyEnv as a Web3 Secret Storage (V3) keystore
// for cast: scrypt + AES-128-CTR + keccak MAC, under a fresh 0700 directory.
function ephemeralKeystore(opts) {
  const raw = process.env[opts.privateKeyEnv] || '';
  const hex = raw.startsWith('0x') ? raw.slice(2) : raw;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error(`environment variable ${opts.privateKeyEnv} must hold a 32-byte hex private key`);
  }
  const key = Buffer.from(hex, 'hex');
  const password = crypto.randomBytes(32).toString('hex');
  const salt = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const kdf = { dklen: 32, n: 8192, r: 8, p: 1, salt: salt.toString('hex') };
  const dk = crypto.scryptSync(Buffer.from(password), salt, 32, { N: kdf.n, r: kdf.r, p: kdf.p });
  const c = crypto.createCipheriv('aes-128-ctr', dk.subarray(0, 16), iv);
  const ct = Buffer.concat([c.update(key), c.final()]);
  const mac = keccak256(Buffer.concat([dk.subarray(16, 32), ct]));
  key.fill(0);
  dk.fill(0);
  const ks = {
    version: 3,
    id: crypto.randomUUID(),
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv.toString('hex') },
      ciphertext: ct.toString('hex'),
      kdf: 'scrypt',
      kdfparams: kdf,
      mac,
    },
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dstack-kms-key-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      cleanup();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
  opts.keystore = path.join(dir, 'key.json');
  opts.passwordFile = path.join(dir, 'password');
  fs.writeFileSync(opts.keystore, JSON.stringify(ks), { mode: 0o600 });
  fs.writeFileSync(opts.passwordFile, password, { mode: 0o600 });
}

// opts: {rpc, from, gas, privateKeyEnv, keystore, passwordFile, receiptTimeoutMs}
class Sender {
  constructor(rpc, opts) {
    this.rpc = rpc;
    this.opts = opts;
    this.mode = opts.privateKeyEnv || opts.keystore ? 'cast' : 'unlocked';
    this.address = null;
  }

  async init() {
    if (this.mode === 'unlocked') {
      if (this.opts.from) {
        this.address = this.opts.from.toLowerCase();
      } else {
        const accts = await this.rpc.call('eth_accounts');
        if (!accts || accts.length === 0) {
          throw new Error('the node holds no unlocked account: pass --private-key-env VAR or --keystore PATH');
        }
        this.address = accts[0].toLowerCase();
      }
    } else {
      const args = ['wallet', 'address', ...this.walletArgs()];
      this.address = (await runCast(args, this.walletEnv())).trim().toLowerCase();
    }
    return this;
  }

  // A raw key from the environment is handed to cast as an ephemeral
  // keystore (random password, 0600 files, removed on exit), never on argv.
  walletArgs() {
    if (this.opts.privateKeyEnv && !this.opts.keystore) ephemeralKeystore(this.opts);
    const a = ['--keystore', this.opts.keystore];
    if (this.opts.passwordFile) a.push('--password-file', this.opts.passwordFile);
    return a;
  }

  walletEnv() {
    return {};
  }

  // tx: {to?, data}; returns the receipt (status checked)
  async send(tx) {
    const timeout = this.opts.receiptTimeoutMs || 120000;
    let receipt;
    if (this.mode === 'unlocked') {
      const t = { from: this.address, data: tx.data };
      if (tx.to) t.to = tx.to;
      if (this.opts.gas) t.gas = '0x' + BigInt(this.opts.gas).toString(16);
      let hash;
      try {
        hash = await this.rpc.call('eth_sendTransaction', [t]);
      } catch (e) {
        throw new Error(explain(e));
      }
      receipt = await this.rpc.waitReceipt(hash, timeout);
    } else {
      // the URL goes through the environment: it may carry an API key, and argv is public
      const env = { ...this.walletEnv(), ETH_RPC_URL: this.rpc.url };
      const args = ['send', '--json', '--timeout', String(Math.ceil(timeout / 1000))];
      if (this.opts.gas) args.push('--gas-limit', String(this.opts.gas));
      args.push(...this.walletArgs());
      if (tx.to) args.push(tx.to, '--data', tx.data);
      else args.push('--create', tx.data);
      const out = await runCast(args, env);
      receipt = JSON.parse(out.trim().split('\n').pop());
    }
    if (receipt.status !== '0x1' && receipt.status !== 1 && receipt.status !== '1') {
      throw new Error(`transaction ${receipt.transactionHash} failed (status ${receipt.status})`);
    }
    return receipt;
  }
}

// simulate first so a revert comes back with its reason instead of a bare failed receipt
async function simulate(rpc, sender, tx) {
  const t = { from: sender.address, data: tx.data };
  if (tx.to) t.to = tx.to;
  try {
    await rpc.call('eth_call', [t, 'latest']);
  } catch (e) {
    throw new Error(explain(e));
  }
}

// ---- command-line options shared by deploy.js and manage.js ----

const COMMON_HELP = `common options:
  --rpc URL               JSON-RPC endpoint (default $ETH_RPC_URL or http://127.0.0.1:8545)
  --from ADDR             unlocked account to send from (default: the node's first account)
  --private-key-env VAR   sign with cast using the hex private key in environment variable VAR
                          (handed to cast as a temporary encrypted keystore, never on a command line)
  --keystore PATH         sign with cast using this keystore file (also $ETH_KEYSTORE)
  --password-file FILE    keystore password file (also $ETH_PASSWORD)
  --gas N                 gas limit per transaction (default: the node estimates)
  --timeout SEC           wait at most SEC seconds for each receipt (default 120)`;

// parse argv: known --options into opts, the rest into positional
function parseArgs(argv, flagNames, valueNames) {
  const opts = {};
  const pos = [];
  const values = new Set([
    'rpc', 'from', 'private-key-env', 'keystore', 'password-file', 'gas', 'timeout', ...valueNames,
  ]);
  const flags = new Set(['help', ...flagNames]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--') && a.length > 2) {
      const name = a.slice(2);
      if (flags.has(name)) opts[name] = true;
      else if (values.has(name)) {
        if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
        opts[name] = argv[++i];
      } else throw new Error(`unknown option ${a}`);
    } else pos.push(a);
  }
  opts.rpc = opts.rpc || process.env.ETH_RPC_URL || 'http://127.0.0.1:8545';
  if (!opts.keystore && process.env.ETH_KEYSTORE) opts.keystore = process.env.ETH_KEYSTORE;
  if (!opts['password-file'] && process.env.ETH_PASSWORD) opts['password-file'] = process.env.ETH_PASSWORD;
  return { opts, pos };
}

function senderOptions(opts) {
  return {
    from: opts.from,
    gas: opts.gas,
    privateKeyEnv: opts['private-key-env'],
    keystore: opts.keystore,
    passwordFile: opts['password-file'],
    receiptTimeoutMs: opts.timeout ? Number(opts.timeout) * 1000 : 120000,
  };
}

function isAddress(s) {
  return typeof s === 'string' && /^0x[0-9a-fA-F]{40}$/.test(s);
}

// deploy an artifact's bytecode with ABI-encoded constructor arguments
async function deployContract(rpc, sender, name, args = []) {
  const art = loadArtifact(name);
  const ctor = art.abi.find((x) => x.type === 'constructor');
  const enc = ctor ? abi.encode(ctor.inputs, args).slice(2) : '';
  const tx = { data: art.bytecode + enc };
  await simulate(rpc, sender, tx);
  const r = await sender.send(tx);
  if (!r.contractAddress) throw new Error(`deploying ${name}: no contractAddress in the receipt`);
  const code = await rpc.call('eth_getCode', [r.contractAddress, 'latest']);
  if (!code || code === '0x') throw new Error(`deploying ${name}: no code at ${r.contractAddress}`);
  return { address: r.contractAddress.toLowerCase(), receipt: r };
}

module.exports = {
  ROOT,
  BUILD,
  Rpc,
  RpcError,
  Sender,
  simulate,
  safeUrl,
  loadArtifact,
  explain,
  parseArgs,
  senderOptions,
  COMMON_HELP,
  isAddress,
  deployContract,
};
