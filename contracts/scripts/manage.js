#!/usr/bin/env node
// manage.js - operator commands for deployed policy contracts: allowlists
// (OS images, KMS aggregated MRs, KMS devices, app compose hashes and
// devices), app registration and factory deployment, gateway app id, KMS
// info, ownership, upgrades, and read-only queries including a boot check in
// the webhook's JSON format. Prints one JSON line per command on stdout.
// Transactions are simulated first so a revert shows its reason; nothing is
// sent when the simulation fails. Never prints keys or RPC URL paths.
// spec: auth-eth §3.2-3.5 (functions), §1.3 (the boot-check JSON fields)
'use strict';

const fs = require('fs');
const eth = require('./lib/eth');
const abi = require('./lib/abi');

const ZERO32 = '0x' + '00'.repeat(32);
const IMPL_SLOT = '0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc';

const HELP = `usage: node contracts/scripts/manage.js [options] COMMAND ARGS...
       node contracts/scripts/manage.js [options] --batch FILE|-    (one command per line, # comments)
  --kms ADDR      the KmsPolicy proxy (default $KMS_CONTRACT_ADDR)
${eth.COMMON_HELP}

KMS policy (owner only unless marked):
  add-os-image H | remove-os-image H
  add-kms-mr H | remove-kms-mr H
  add-kms-device H | remove-kms-device H
  set-gateway-app-id STRING
  set-kms-info K256_HEX CA_HEX QUOTE_HEX EVENTLOG_HEX | set-kms-quote HEX | set-kms-eventlog HEX
  set-app-implementation ADDR
  register-app ADDR                                   (anyone)
  deploy-app [--owner ADDR] [--disable-upgrades] [--require-tcb] [--allow-any-device]
             [--device H] [--compose-hash H] [--legacy]  (anyone; --legacy = 5-argument form)
App policy (owner of that app):
  add-compose-hash APP H | remove-compose-hash APP H
  add-device APP H | remove-device APP H
  set-allow-any-device APP true|false | set-require-tcb APP true|false | disable-upgrades APP
Ownership and upgrades (CONTRACT = "kms" or an app address):
  transfer-ownership CONTRACT NEW_OWNER | accept-ownership CONTRACT
  deploy-impl kms|app                                 (a new implementation; prints its address)
  upgrade CONTRACT NEW_IMPL [CALLDATA_HEX]
Queries (no transaction):
  info | app-info APP
  is-registered ADDR | os-image-allowed H | kms-mr-allowed H | kms-device-allowed H
  compose-hash-allowed APP H | device-allowed APP H
  check-app JSON | check-kms JSON     (JSON = the webhook body: appId, composeHash, ...)
H is a 32-byte value as 64 hex digits (0x optional).
`;

function b32(s, what) {
  const h = typeof s === 'string' && s.startsWith('0x') ? s.slice(2) : s;
  if (typeof h !== 'string' || !/^[0-9a-fA-F]{64}$/.test(h)) {
    throw new Error(`${what}: need 32 bytes as 64 hex digits, got ${JSON.stringify(s)}`);
  }
  return '0x' + h.toLowerCase();
}

function addr(s, what) {
  if (!eth.isAddress(s)) throw new Error(`${what}: not an address: ${JSON.stringify(s)}`);
  return s.toLowerCase();
}

function hexBytes(s, what) {
  const h = typeof s === 'string' && s.startsWith('0x') ? s.slice(2) : s;
  if (typeof h !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(h)) throw new Error(`${what}: not hex bytes`);
  return '0x' + h.toLowerCase();
}

function bool(s, what) {
  if (s === 'true' || s === 'false') return s === 'true';
  throw new Error(`${what}: need true or false`);
}

// left-pad a webhook hex field to n bytes the way upstream auth-eth does (§1.3)
function padHex(v, n, what) {
  const s = v === undefined || v === null ? '' : String(v);
  const h = s.startsWith('0x') ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]*$/.test(h) || h.length > 2 * n) throw new Error(`${what}: bad hex`);
  return '0x' + h.padStart(2 * n, '0').toLowerCase();
}

function bootInfo(json) {
  const b = JSON.parse(json);
  return [
    [
      padHex(b.appId, 20, 'appId'),
      padHex(b.composeHash, 32, 'composeHash'),
      padHex(b.instanceId, 20, 'instanceId'),
      padHex(b.deviceId, 32, 'deviceId'),
      padHex(b.mrAggregated, 32, 'mrAggregated'),
      padHex(b.mrSystem, 32, 'mrSystem'),
      padHex(b.osImageHash, 32, 'osImageHash'),
      String(b.tcbStatus === undefined ? '' : b.tcbStatus),
      (b.advisoryIds || []).map(String),
    ],
  ];
}

function need(args, n, usage) {
  if (args.length !== n) throw new Error(`usage: ${usage}`);
}

class Manager {
  constructor(opts) {
    this.opts = opts;
    this.rpc = new eth.Rpc(opts.rpc);
    this.kms = opts.kms ? addr(opts.kms, '--kms') : null;
    this.kmsAbi = eth.loadArtifact('KmsPolicy').abi;
    this.appAbi = eth.loadArtifact('AppPolicy').abi;
    this.sender = null;
  }

  needKms() {
    if (!this.kms) throw new Error('no KMS contract: pass --kms ADDR or set KMS_CONTRACT_ADDR');
    return this.kms;
  }

  async getSender() {
    if (!this.sender) this.sender = await new eth.Sender(this.rpc, eth.senderOptions(this.opts)).init();
    return this.sender;
  }

  target(c) {
    return c === 'kms' ? { to: this.needKms(), abi: this.kmsAbi } : { to: addr(c, 'CONTRACT'), abi: this.appAbi };
  }

  async send(to, abiDef, fn, args) {
    const sender = await this.getSender();
    const tx = { to, data: abi.encodeCall(abiDef, fn, args) };
    await eth.simulate(this.rpc, sender, tx);
    const r = await sender.send(tx);
    return { tx: r.transactionHash, block: Number(BigInt(r.blockNumber)), gasUsed: Number(BigInt(r.gasUsed)), receipt: r };
  }

  async query(to, abiDef, fn, args) {
    const data = abi.encodeCall(abiDef, fn, args);
    let out;
    try {
      out = await this.rpc.ethCall(to, data);
    } catch (e) {
      throw new Error(eth.explain(e));
    }
    if (out === '0x') throw new Error(`${fn}: no data returned (no contract at ${to}?)`);
    return abi.decodeResult(abiDef, fn, args.length, out);
  }

  async kmsSend(fn, args) {
    return this.send(this.needKms(), this.kmsAbi, fn, args);
  }

  async run(cmd, a) {
    const K = this.kmsAbi;
    const simple = {
      'add-os-image': 'addOsImageHash',
      'remove-os-image': 'removeOsImageHash',
      'add-kms-mr': 'addKmsAggregatedMr',
      'remove-kms-mr': 'removeKmsAggregatedMr',
      'add-kms-device': 'addKmsDevice',
      'remove-kms-device': 'removeKmsDevice',
    };
    const appSimple = {
      'add-compose-hash': 'addComposeHash',
      'remove-compose-hash': 'removeComposeHash',
      'add-device': 'addDevice',
      'remove-device': 'removeDevice',
    };
    const kmsQueries = {
      'os-image-allowed': 'allowedOsImages',
      'kms-mr-allowed': 'kmsAllowedAggregatedMrs',
      'kms-device-allowed': 'kmsAllowedDeviceIds',
    };
    const appQueries = { 'compose-hash-allowed': 'allowedComposeHashes', 'device-allowed': 'allowedDeviceIds' };

    if (simple[cmd]) {
      need(a, 1, `${cmd} H`);
      return this.kmsSend(simple[cmd], [b32(a[0], cmd)]);
    }
    if (appSimple[cmd]) {
      need(a, 2, `${cmd} APP H`);
      return this.send(addr(a[0], 'APP'), this.appAbi, appSimple[cmd], [b32(a[1], cmd)]);
    }
    if (kmsQueries[cmd]) {
      need(a, 1, `${cmd} H`);
      const [v] = await this.query(this.needKms(), K, kmsQueries[cmd], [b32(a[0], cmd)]);
      return { value: v };
    }
    if (appQueries[cmd]) {
      need(a, 2, `${cmd} APP H`);
      const [v] = await this.query(addr(a[0], 'APP'), this.appAbi, appQueries[cmd], [b32(a[1], cmd)]);
      return { value: v };
    }
    switch (cmd) {
      case 'set-gateway-app-id':
        need(a, 1, 'set-gateway-app-id STRING');
        return this.kmsSend('setGatewayAppId', [a[0]]);
      case 'set-kms-info':
        need(a, 4, 'set-kms-info K256_HEX CA_HEX QUOTE_HEX EVENTLOG_HEX');
        return this.kmsSend('setKmsInfo', [a.map((x, i) => hexBytes(x, `set-kms-info argument ${i + 1}`))]);
      case 'set-kms-quote':
        need(a, 1, 'set-kms-quote HEX');
        return this.kmsSend('setKmsQuote', [hexBytes(a[0], 'quote')]);
      case 'set-kms-eventlog':
        need(a, 1, 'set-kms-eventlog HEX');
        return this.kmsSend('setKmsEventlog', [hexBytes(a[0], 'eventlog')]);
      case 'set-app-implementation':
        need(a, 1, 'set-app-implementation ADDR');
        return this.kmsSend('setAppImplementation', [addr(a[0], 'ADDR')]);
      case 'register-app':
        need(a, 1, 'register-app ADDR');
        return this.kmsSend('registerApp', [addr(a[0], 'ADDR')]);
      case 'deploy-app':
        return this.deployApp(a);
      case 'set-allow-any-device':
        need(a, 2, 'set-allow-any-device APP true|false');
        return this.send(addr(a[0], 'APP'), this.appAbi, 'setAllowAnyDevice', [bool(a[1], cmd)]);
      case 'set-require-tcb':
        need(a, 2, 'set-require-tcb APP true|false');
        return this.send(addr(a[0], 'APP'), this.appAbi, 'setRequireTcbUpToDate', [bool(a[1], cmd)]);
      case 'disable-upgrades':
        need(a, 1, 'disable-upgrades APP');
        return this.send(addr(a[0], 'APP'), this.appAbi, 'disableUpgrades', []);
      case 'transfer-ownership': {
        need(a, 2, 'transfer-ownership CONTRACT NEW_OWNER');
        const t = this.target(a[0]);
        return this.send(t.to, t.abi, 'transferOwnership', [addr(a[1], 'NEW_OWNER')]);
      }
      case 'accept-ownership': {
        need(a, 1, 'accept-ownership CONTRACT');
        const t = this.target(a[0]);
        return this.send(t.to, t.abi, 'acceptOwnership', []);
      }
      case 'deploy-impl': {
        need(a, 1, 'deploy-impl kms|app');
        const name = { kms: 'KmsPolicy', app: 'AppPolicy' }[a[0]];
        if (!name) throw new Error('usage: deploy-impl kms|app');
        const d = await eth.deployContract(this.rpc, await this.getSender(), name);
        return { address: d.address, tx: d.receipt.transactionHash };
      }
      case 'upgrade': {
        if (a.length !== 2 && a.length !== 3) throw new Error('usage: upgrade CONTRACT NEW_IMPL [CALLDATA_HEX]');
        const t = this.target(a[0]);
        return this.send(t.to, t.abi, 'upgradeToAndCall', [addr(a[1], 'NEW_IMPL'), hexBytes(a[2] || '0x', 'CALLDATA')]);
      }
      case 'info':
        need(a, 0, 'info');
        return this.info();
      case 'app-info':
        need(a, 1, 'app-info APP');
        return this.appInfo(addr(a[0], 'APP'));
      case 'is-registered': {
        need(a, 1, 'is-registered ADDR');
        const [v] = await this.query(this.needKms(), K, 'registeredApps', [addr(a[0], 'ADDR')]);
        return { value: v };
      }
      case 'check-app':
      case 'check-kms': {
        need(a, 1, `${cmd} JSON`);
        const fn = cmd === 'check-app' ? 'isAppAllowed' : 'isKmsAllowed';
        const [isAllowed, reason] = await this.query(this.needKms(), K, fn, bootInfo(a[0]));
        return { isAllowed, reason };
      }
      default:
        throw new Error(`unknown command ${cmd} (see --help)`);
    }
  }

  async deployApp(a) {
    const o = { owner: null, disable: false, tcb: false, any: false, device: ZERO32, compose: ZERO32, legacy: false };
    for (let i = 0; i < a.length; i++) {
      const v = () => {
        if (i + 1 >= a.length) throw new Error(`deploy-app: ${a[i]} needs a value`);
        return a[++i];
      };
      switch (a[i]) {
        case '--owner': o.owner = addr(v(), '--owner'); break;
        case '--disable-upgrades': o.disable = true; break;
        case '--require-tcb': o.tcb = true; break;
        case '--allow-any-device': o.any = true; break;
        case '--device': o.device = b32(v(), '--device'); break;
        case '--compose-hash': o.compose = b32(v(), '--compose-hash'); break;
        case '--legacy': o.legacy = true; break;
        default: throw new Error(`deploy-app: unknown option ${a[i]}`);
      }
    }
    if (o.legacy && o.tcb) throw new Error('deploy-app: --legacy has no --require-tcb');
    const sender = await this.getSender();
    const owner = o.owner || sender.address;
    const args = o.legacy
      ? [owner, o.disable, o.any, o.device, o.compose]
      : [owner, o.disable, o.tcb, o.any, o.device, o.compose];
    const r = await this.kmsSend('deployAndRegisterApp', args);
    const topic = abi.eventTopic(this.kmsAbi.find((x) => x.type === 'event' && x.name === 'AppDeployedViaFactory'));
    const log = r.receipt.logs.find((l) => l.address.toLowerCase() === this.kms && l.topics[0] === topic);
    if (!log) throw new Error(`deploy-app: no AppDeployedViaFactory event in ${r.tx}`);
    return { app: '0x' + log.topics[1].slice(26), owner, ...r };
  }

  async info() {
    const K = this.kmsAbi;
    const kms = this.needKms();
    const q = async (fn) => (await this.query(kms, K, fn, []))[0];
    const info = await this.query(kms, K, 'kmsInfo', []);
    const slot = await this.rpc.call('eth_getStorageAt', [kms, IMPL_SLOT, 'latest']);
    return {
      kms,
      chainId: Number(BigInt(await this.rpc.call('eth_chainId'))),
      owner: await q('owner'),
      pendingOwner: await q('pendingOwner'),
      gatewayAppId: await q('gatewayAppId'),
      appImplementation: await q('appImplementation'),
      implementation: '0x' + slot.slice(-40),
      kmsInfo: { k256Pubkey: info[0], caPubkey: info[1], quote: info[2], eventlog: info[3] },
    };
  }

  async appInfo(app) {
    const A = this.appAbi;
    const q = async (fn) => (await this.query(app, A, fn, []))[0];
    const slot = await this.rpc.call('eth_getStorageAt', [app, IMPL_SLOT, 'latest']);
    return {
      app,
      owner: await q('owner'),
      pendingOwner: await q('pendingOwner'),
      allowAnyDevice: await q('allowAnyDevice'),
      requireTcbUpToDate: await q('requireTcbUpToDate'),
      version: Number(await q('version')),
      implementation: '0x' + slot.slice(-40),
      registered: this.kms ? (await this.query(this.kms, this.kmsAbi, 'registeredApps', [app]))[0] : null,
    };
  }
}

// split a batch line into words; "double quotes" group words (no escapes)
function splitLine(line) {
  const words = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m;
  while ((m = re.exec(line))) words.push(m[1] !== undefined ? m[1] : m[2]);
  return words;
}

function show(cmd, res) {
  const { receipt, ...rest } = res;
  void receipt;
  process.stdout.write(JSON.stringify({ command: cmd, ...rest }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
}

async function main() {
  const argv = process.argv.slice(2);
  // options come before the command; everything from the command on is its arguments
  const firstCmd = argv.findIndex((x, i) => !x.startsWith('--') && (i === 0 || !VALUE_OPTS.has(argv[i - 1])));
  const head = firstCmd < 0 ? argv : argv.slice(0, firstCmd);
  const rest = firstCmd < 0 ? [] : argv.slice(firstCmd);
  const { opts } = eth.parseArgs(head, [], ['kms', 'batch']);
  if (opts.help || (rest.length === 0 && !opts.batch)) {
    process.stdout.write(HELP);
    if (!opts.help) process.exit(2);
    return;
  }
  opts.kms = opts.kms || process.env.KMS_CONTRACT_ADDR;
  const m = new Manager(opts);
  if (opts.batch) {
    if (rest.length) throw new Error('--batch takes its commands from the file, not the command line');
    const text = fs.readFileSync(opts.batch === '-' ? 0 : opts.batch, 'utf8');
    let n = 0;
    for (const line of text.split('\n')) {
      n++;
      const w = splitLine(line.replace(/^\s*#.*$/, ''));
      if (w.length === 0) continue;
      try {
        show(w[0], await m.run(w[0], w.slice(1)));
      } catch (e) {
        throw new Error(`line ${n} (${w[0]}): ${e.message}`);
      }
    }
    return;
  }
  show(rest[0], await m.run(rest[0], rest.slice(1)));
}

const VALUE_OPTS = new Set([
  '--rpc', '--from', '--private-key-env', '--keystore', '--password-file', '--gas', '--timeout', '--kms', '--batch',
]);

main().catch((e) => {
  process.stderr.write(`manage.js: ${e.message}\n`);
  process.exit(1);
});
