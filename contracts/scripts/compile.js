#!/usr/bin/env node
// compile.js - compiles contracts/src/*.sol and OpenZeppelin's ERC1967Proxy
// with solcjs (npm solc@0.8.24, standard JSON, imports resolved from
// node_modules) and writes one artifact per deployable contract to
// contracts/build/<Name>.json: abi, bytecode, deployedBytecode,
// methodIdentifiers (solc's) and event topics.
// Skips the work when the inputs (sources, settings, package versions) are
// unchanged. Fails on any error, and on any warning in our own sources.
//
// usage: node contracts/scripts/compile.js [--evm-version cancun|shanghai|...] [--force] [--quiet]
//        (default EVM version: $SOLC_EVM_VERSION or cancun)
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');
const BUILD = process.env.CONTRACTS_BUILD_DIR || path.join(ROOT, 'build');
const NODE_MODULES = path.join(ROOT, 'node_modules');
const PROXY_SOURCE = '@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol';
const OUTPUTS = { KmsPolicy: 'src/KmsPolicy.sol', AppPolicy: 'src/AppPolicy.sol', ERC1967Proxy: PROXY_SOURCE };

function usage(code) {
  process.stderr.write(
    'usage: node contracts/scripts/compile.js [--evm-version V] [--force] [--quiet]\n' +
      '  writes contracts/build/{KmsPolicy,AppPolicy,ERC1967Proxy}.json\n',
  );
  process.exit(code);
}

function parse(argv) {
  const o = { evm: process.env.SOLC_EVM_VERSION || 'cancun', force: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--evm-version' && i + 1 < argv.length) o.evm = argv[++i];
    else if (argv[i] === '--force') o.force = true;
    else if (argv[i] === '--quiet') o.quiet = true;
    else if (argv[i] === '--help' || argv[i] === '-h') usage(0);
    else {
      process.stderr.write(`compile.js: unknown argument ${argv[i]}\n`);
      usage(2);
    }
  }
  if (!/^[a-z]+$/.test(o.evm)) usage(2);
  return o;
}

function pkgVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(NODE_MODULES, name, 'package.json'), 'utf8')).version;
  } catch (_) {
    return null;
  }
}

// import callback: only files inside node_modules/@openzeppelin
function findImport(p) {
  if (!p.startsWith('@openzeppelin/') || p.includes('..')) return { error: `import not allowed: ${p}` };
  const f = path.join(NODE_MODULES, p);
  try {
    return { contents: fs.readFileSync(f, 'utf8') };
  } catch (_) {
    return { error: `not found: ${p} (run scripts/install-npm-deps.sh)` };
  }
}

function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function main() {
  const o = parse(process.argv.slice(2));
  const versions = {
    solc: pkgVersion('solc'),
    oz: pkgVersion('@openzeppelin/contracts'),
    ozUpgradeable: pkgVersion('@openzeppelin/contracts-upgradeable'),
  };
  for (const [k, v] of Object.entries(versions)) {
    if (!v) {
      process.stderr.write(`compile.js: npm package for ${k} missing in ${NODE_MODULES} (run scripts/install-npm-deps.sh)\n`);
      process.exit(1);
    }
  }

  const sources = {};
  for (const f of fs.readdirSync(SRC).filter((x) => x.endsWith('.sol')).sort()) {
    sources[`src/${f}`] = { content: fs.readFileSync(path.join(SRC, f), 'utf8') };
  }
  sources[PROXY_SOURCE] = { content: findImport(PROXY_SOURCE).contents };

  const settings = {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: o.evm,
    outputSelection: {
      '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] },
    },
  };
  const input = { language: 'Solidity', sources, settings };
  const stamp = crypto
    .createHash('sha256')
    .update(JSON.stringify({ input, versions }))
    .digest('hex');

  const metaFile = path.join(BUILD, 'meta.json');
  if (!o.force && fs.existsSync(metaFile)) {
    try {
      const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
      const all = Object.keys(OUTPUTS).every((n) => fs.existsSync(path.join(BUILD, `${n}.json`)));
      if (meta.stamp === stamp && all) {
        if (!o.quiet) process.stdout.write(`compile.js: ${BUILD} is up to date\n`);
        return;
      }
    } catch (_) {
      /* rebuild */
    }
  }

  const solc = require('solc');
  const { keccak256 } = require('js-sha3');
  const t0 = Date.now();
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  let bad = false;
  for (const e of out.errors || []) {
    const ours = e.sourceLocation && e.sourceLocation.file && e.sourceLocation.file.startsWith('src/');
    if (e.severity === 'error' || (e.severity === 'warning' && ours)) bad = true;
    if (e.severity !== 'info') process.stderr.write(e.formattedMessage || e.message);
  }
  if (bad) {
    process.stderr.write('compile.js: compilation failed (errors, or warnings in contracts/src)\n');
    process.exit(1);
  }

  fs.mkdirSync(BUILD, { recursive: true });
  for (const [name, file] of Object.entries(OUTPUTS)) {
    const c = out.contracts[file] && out.contracts[file][name];
    if (!c) {
      process.stderr.write(`compile.js: no output for ${file}:${name}\n`);
      process.exit(1);
    }
    const events = {};
    for (const ev of c.abi.filter((x) => x.type === 'event')) {
      const sig = `${ev.name}(${ev.inputs.map(canon).join(',')})`;
      events[sig] = '0x' + keccak256(sig);
    }
    const art = {
      contractName: name,
      sourceName: file,
      compiler: `solc ${solc.version()}`,
      evmVersion: o.evm,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      methodIdentifiers: c.evm.methodIdentifiers,
      events,
    };
    writeAtomic(path.join(BUILD, `${name}.json`), JSON.stringify(art, null, 1) + '\n');
  }
  writeAtomic(metaFile, JSON.stringify({ stamp, versions, evmVersion: o.evm }, null, 1) + '\n');
  if (!o.quiet) {
    const sizes = Object.keys(OUTPUTS)
      .map((n) => `${n} ${(JSON.parse(fs.readFileSync(path.join(BUILD, `${n}.json`))).bytecode.length - 2) / 2} B`)
      .join(', ');
    process.stdout.write(`compile.js: solc ${versions.solc}, evm ${o.evm}, ${Date.now() - t0} ms: ${sizes}\n`);
  }
}

function canon(p) {
  if (p.type.startsWith('tuple')) return '(' + p.components.map(canon).join(',') + ')' + p.type.slice(5);
  return p.type;
}

main();
