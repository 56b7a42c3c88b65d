#!/usr/bin/env node
// deploy.js - deploys the policy contracts to a JSON-RPC endpoint: the
// AppPolicy implementation, the KmsPolicy implementation, then an ERC-1967
// proxy to KmsPolicy initialized with (owner, app implementation). The proxy
// is the address dstack-auth-eth needs (KMS_CONTRACT_ADDR).
// Prints one JSON object with the addresses on stdout; progress on stderr.
// On a fresh anvil (account 0, nonces 0..2) the addresses are deterministic:
// app impl 0x5fbd…0aa3, KMS impl 0xe7f1…0512, KMS proxy 0x9fe4…a6e0.
// Needs contracts/build (run compile.js first).
'use strict';

const eth = require('./lib/eth');
const abi = require('./lib/abi');

const HELP = `usage: node contracts/scripts/deploy.js [options]
  --owner ADDR                 owner of the KMS policy (default: the sender)
  --app-implementation ADDR|none
                               use an existing AppPolicy implementation, or none (factory
                               disabled until set-app-implementation); default: deploy one
${eth.COMMON_HELP}
output (stdout): {"chainId":N,"deployer":"0x…","owner":"0x…","appImplementation":"0x…",
                  "kmsImplementation":"0x…","kms":"0x…"}   (kms = the proxy = KMS_CONTRACT_ADDR)
`;

async function main() {
  const { opts, pos } = eth.parseArgs(process.argv.slice(2), [], ['owner', 'app-implementation']);
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  if (pos.length) throw new Error(`unexpected argument ${pos[0]} (see --help)`);
  const rpc = new eth.Rpc(opts.rpc);
  const chainId = Number(BigInt(await rpc.call('eth_chainId')));
  const sender = await new eth.Sender(rpc, eth.senderOptions(opts)).init();
  const owner = (opts.owner || sender.address).toLowerCase();
  if (!eth.isAddress(owner)) throw new Error(`--owner: not an address: ${owner}`);
  const log = (m) => process.stderr.write(`deploy.js: ${m}\n`);
  log(`chain ${chainId} at ${eth.safeUrl(opts.rpc)}, sender ${sender.address} (${sender.mode})`);

  let appImpl;
  const ai = opts['app-implementation'];
  if (ai === 'none') appImpl = '0x0000000000000000000000000000000000000000';
  else if (ai) {
    if (!eth.isAddress(ai)) throw new Error(`--app-implementation: not an address: ${ai}`);
    appImpl = ai.toLowerCase();
  } else {
    appImpl = (await eth.deployContract(rpc, sender, 'AppPolicy')).address;
    log(`AppPolicy implementation ${appImpl}`);
  }
  const kmsImpl = (await eth.deployContract(rpc, sender, 'KmsPolicy')).address;
  log(`KmsPolicy implementation ${kmsImpl}`);
  const kmsAbi = eth.loadArtifact('KmsPolicy').abi;
  const init = abi.encodeCall(kmsAbi, 'initialize', [owner, appImpl]);
  const proxy = (await eth.deployContract(rpc, sender, 'ERC1967Proxy', [kmsImpl, init])).address;
  log(`KmsPolicy proxy ${proxy} (KMS_CONTRACT_ADDR)`);

  // read back through the proxy: proves the initializer ran
  const [gotOwner] = abi.decodeResult(kmsAbi, 'owner', 0, await rpc.ethCall(proxy, abi.encodeCall(kmsAbi, 'owner', [])));
  if (gotOwner !== owner) throw new Error(`proxy owner is ${gotOwner}, expected ${owner}`);

  process.stdout.write(
    JSON.stringify({
      chainId,
      deployer: sender.address,
      owner,
      appImplementation: appImpl,
      kmsImplementation: kmsImpl,
      kms: proxy,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`deploy.js: ${e.message}\n`);
  process.exit(1);
});
