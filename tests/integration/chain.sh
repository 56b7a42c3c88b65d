# chain.sh — sourceable helpers for integration tests that need a real local
# Ethereum chain: anvil (npm @foundry-rs/anvil) on a free 127.0.0.1 port, the
# project's policy contracts (contracts/) compiled and deployed, and the
# spec's behaviour-table chain state (auth-eth §5.3).
# Source tests/integration/lib.sh first (TMP, PIDS, free_port, PY, fail).
# Every wait is bounded; anvil processes are started through lib.sh's PIDS
# list, so its EXIT trap kills them even when a test dies early.
#
# Functions (return 0/1; they print nothing on success unless stated):
#   chain_require            ensure contracts/node_modules (runs scripts/install-npm-deps.sh);
#                            returns 2 after printing "SKIP: ..." when it is absent and the npm
#                            registry is unreachable, 1 (with a FAIL line) on other failures
#   chain_start [--block-time N]
#                            start anvil; exports ETH_RPC_URL, CHAIN_PORT, CHAIN_PID,
#                            CHAIN_ID (31337), CHAIN_BLOCK_TIME ("" = automine), CHAIN_START_MS
#   chain_deploy [deploy.js options]
#                            compile (cached) and deploy; exports KMS_CONTRACT_ADDR (the proxy),
#                            KMS_IMPL_ADDR, APP_IMPL_ADDR, CHAIN_OWNER (account 0), CHAIN_DEPLOY_MS
#   chain_fixture            the §5.3 state; exports FIX_OS_IMAGE, FIX_KMS_MR, FIX_KMS_DEVICE,
#                            FIX_APP_DEVICE, FIX_COMPOSE, FIX_GATEWAY_APP_ID, APP_ADDR (factory app,
#                            0x7553… on a fresh chain), DEAD_APP_ADDR (registered, no code),
#                            STOP_APP_ADDR (registered, code = one STOP), CHAIN_FIXTURE_MS
#   chain_manage ARGS...     contracts/scripts/manage.js with --rpc and --kms preset; prints its
#                            JSON lines (mines blocks at once, even on a block-time chain)
#   chain_rpc METHOD [PARAMS_JSON]   print the raw JSON-RPC answer (default params [])
#   chain_block_number       print the head block number (decimal)
#   chain_stall / chain_unstall      stop / resume block production (block-time chains)
#   chain_freeze / chain_thaw        SIGSTOP / SIGCONT anvil: connections hang, nothing answers
#   chain_stop               stop anvil (its state is saved to $CHAIN_DIR/state.json)
#   chain_restart            start it again on the same port with that state (same contracts)
# Accounts: anvil's dev accounts are unlocked; chain_start fills the array CHAIN_ACCOUNTS
# (lowercase, from eth_accounts; [0] deploys and owns everything).
#
# Typical use (from the project root, after lib.sh):
#   . tests/integration/chain.sh
#   chain_require; case $? in 0) ;; 2) exit 0 ;; *) finish ;; esac
#   chain_start || finish; chain_deploy || finish; chain_fixture || finish
#   ... start the webhook with ETH_RPC_URL and KMS_CONTRACT_ADDR; chain_stop; chain_restart ...

CONTRACTS_DIR="$PWD/contracts"
CHAIN_DIR="$TMP/chain"
CHAIN_ACCOUNTS=()
CHAIN_PID=""
CHAIN_BLOCK_TIME=""

_chain_ms() { echo $(($(date +%s%N) / 1000000)); }

_chain_anvil_bin() {
  local arch
  case "$(uname -m)" in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch=unknown ;; esac
  echo "$CONTRACTS_DIR/node_modules/@foundry-rs/anvil-linux-$arch/bin/anvil"
}

chain_require() {
  local out rc
  out=$(scripts/install-npm-deps.sh 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [ -x "$(_chain_anvil_bin)" ] && [ -f "$CONTRACTS_DIR/node_modules/solc/package.json" ]; then
    return 0
  fi
  case "$out" in
    *"registry unreachable"*)
      if [ ! -x "$(_chain_anvil_bin)" ]; then
        echo "SKIP: local-chain tests: contracts/node_modules is absent and the npm registry is unreachable"
        return 2
      fi
      ;;
  esac
  fail chain_npm_deps "scripts/install-npm-deps.sh (exit $rc): $(echo "$out" | tail -3)"
  return 1
}

# chain_rpc METHOD [PARAMS_JSON] — bounded (5 s); prints the JSON answer
chain_rpc() {
  curl -s --max-time 5 -H 'content-type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":${2:-[]}}" "$ETH_RPC_URL"
}

_chain_result() { $PY -c 'import json,sys; j=json.load(sys.stdin); print(j["result"] if "result" in j else "ERR " + json.dumps(j.get("error")))'; }

chain_block_number() {
  local r
  r=$(chain_rpc eth_blockNumber | _chain_result) || return 1
  case "$r" in 0x*) echo $((r)) ;; *) return 1 ;; esac
}

# _chain_launch — start anvil on $CHAIN_PORT with the state file; wait for eth_chainId (≤ 10 s)
_chain_launch() {
  local args=(--host 127.0.0.1 --port "$CHAIN_PORT" --chain-id 31337 --silent --state "$CHAIN_DIR/state.json")
  [ -n "$CHAIN_BLOCK_TIME" ] && args+=(--block-time "$CHAIN_BLOCK_TIME")
  start_bg "$CHAIN_DIR/anvil.log" "$(_chain_anvil_bin)" "${args[@]}"
  CHAIN_PID=$BG_PID
  local end=$(($(_chain_ms) + 10000))
  while [ "$(_chain_ms)" -lt "$end" ]; do
    case "$(curl -s --max-time 1 -H 'content-type: application/json' \
      --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$ETH_RPC_URL" 2>/dev/null)" in
      *'"result":"0x7a69"'*) return 0 ;;
    esac
    kill -0 "$CHAIN_PID" 2>/dev/null || break
    sleep 0.02
  done
  return 1
}

chain_start() {
  CHAIN_BLOCK_TIME=""
  _CHAIN_STALLED=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --block-time) CHAIN_BLOCK_TIME=$2; shift 2 ;;
      *) fail chain_start "unknown option $1"; return 1 ;;
    esac
  done
  mkdir -p "$CHAIN_DIR"
  rm -f "$CHAIN_DIR/state.json"
  local t0
  t0=$(_chain_ms)
  # a free port can be taken between free_port and anvil's bind: retry a few times
  for _ in 1 2 3; do
    CHAIN_PORT=$(free_port)
    ETH_RPC_URL="http://127.0.0.1:$CHAIN_PORT"
    if _chain_launch; then
      CHAIN_START_MS=$(($(_chain_ms) - t0))
      CHAIN_ID=31337
      mapfile -t CHAIN_ACCOUNTS < <(chain_rpc eth_accounts | $PY -c 'import json,sys; print("\n".join(a.lower() for a in json.load(sys.stdin)["result"]))')
      export ETH_RPC_URL CHAIN_PORT CHAIN_PID CHAIN_ID CHAIN_BLOCK_TIME CHAIN_START_MS
      return 0
    fi
    kill "$CHAIN_PID" 2>/dev/null
    wait "$CHAIN_PID" 2>/dev/null
  done
  fail chain_start "anvil did not answer eth_chainId: $(tail -3 "$CHAIN_DIR/anvil.log" 2>/dev/null)"
  return 1
}

# put the chain's block production back to what the test asked for
_chain_apply_mining() {
  if [ "${_CHAIN_STALLED:-0}" = 1 ]; then
    chain_rpc evm_setIntervalMining '[0]' >/dev/null # also turns automine off
  elif [ -n "$CHAIN_BLOCK_TIME" ]; then
    chain_rpc evm_setIntervalMining "[$CHAIN_BLOCK_TIME]" >/dev/null
  else
    chain_rpc evm_setAutomine '[true]' >/dev/null
  fi
}

# run a command with automine on (transactions mined at once even on a
# block-time or stalled chain), then restore the mining mode
_chain_automine() {
  local rc
  if [ -n "$CHAIN_BLOCK_TIME" ] || [ "${_CHAIN_STALLED:-0}" = 1 ]; then
    chain_rpc evm_setAutomine '[true]' >/dev/null
    "$@"
    rc=$?
    _chain_apply_mining
    return $rc
  fi
  "$@"
}

chain_deploy() {
  local t0 out
  t0=$(_chain_ms)
  if ! node "$CONTRACTS_DIR/scripts/compile.js" --quiet >"$CHAIN_DIR/compile.log" 2>&1; then
    fail chain_compile "$(tail -5 "$CHAIN_DIR/compile.log")"
    return 1
  fi
  CHAIN_COMPILE_MS=$(($(_chain_ms) - t0))
  t0=$(_chain_ms)
  if ! out=$(_chain_automine timeout 60 node "$CONTRACTS_DIR/scripts/deploy.js" --rpc "$ETH_RPC_URL" "$@" 2>"$CHAIN_DIR/deploy.log"); then
    fail chain_deploy "$(tail -3 "$CHAIN_DIR/deploy.log")"
    return 1
  fi
  CHAIN_DEPLOY_MS=$(($(_chain_ms) - t0))
  echo "$out" >"$CHAIN_DIR/deploy.json"
  KMS_CONTRACT_ADDR=$(echo "$out" | json 'j["kms"]')
  KMS_IMPL_ADDR=$(echo "$out" | json 'j["kmsImplementation"]')
  APP_IMPL_ADDR=$(echo "$out" | json 'j["appImplementation"]')
  CHAIN_OWNER=$(echo "$out" | json 'j["owner"]')
  export KMS_CONTRACT_ADDR KMS_IMPL_ADDR APP_IMPL_ADDR CHAIN_OWNER CHAIN_COMPILE_MS CHAIN_DEPLOY_MS
}

chain_manage() {
  _chain_automine timeout 60 node "$CONTRACTS_DIR/scripts/manage.js" --rpc "$ETH_RPC_URL" --kms "$KMS_CONTRACT_ADDR" "$@"
}

# deploy raw init code from account 0; prints the new contract's address
_chain_create_raw() {
  local h r addr
  h=$(chain_rpc eth_sendTransaction "[{\"from\":\"${CHAIN_ACCOUNTS[0]}\",\"data\":\"$1\"}]" | _chain_result)
  case "$h" in 0x*) ;; *) return 1 ;; esac
  for _ in $(seq 100); do
    r=$(chain_rpc eth_getTransactionReceipt "[\"$h\"]")
    addr=$(echo "$r" | $PY -c 'import json,sys; r=json.load(sys.stdin).get("result"); print(r["contractAddress"] if r else "")')
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    sleep 0.05
  done
  return 1
}

chain_fixture() {
  local t0 out
  t0=$(_chain_ms)
  FIX_OS_IMAGE=0x$(printf '11%.0s' $(seq 32))
  FIX_KMS_MR=0x$(printf '22%.0s' $(seq 32))
  FIX_KMS_DEVICE=0x$(printf '33%.0s' $(seq 32))
  FIX_APP_DEVICE=0x$(printf '44%.0s' $(seq 32))
  FIX_COMPOSE=0x$(printf '55%.0s' $(seq 32))
  FIX_GATEWAY_APP_ID=gateway-app-id-test
  DEAD_APP_ADDR=0x000000000000000000000000000000000000dead
  if ! out=$(chain_manage --batch - 2>"$CHAIN_DIR/fixture.log" <<EOF
add-os-image $FIX_OS_IMAGE
add-kms-mr $FIX_KMS_MR
add-kms-device $FIX_KMS_DEVICE
set-gateway-app-id $FIX_GATEWAY_APP_ID
deploy-app --device $FIX_APP_DEVICE --compose-hash $FIX_COMPOSE
register-app $DEAD_APP_ADDR
EOF
  ); then
    fail chain_fixture "$(tail -3 "$CHAIN_DIR/fixture.log")"
    return 1
  fi
  APP_ADDR=$(echo "$out" | grep '"deploy-app"' | json 'j["app"]')
  # a contract whose code is one STOP: the delegated isAppAllowed returns no data
  if ! STOP_APP_ADDR=$(_chain_automine _chain_create_raw 0x60016000f3) ||
    ! chain_manage register-app "$STOP_APP_ADDR" >>"$CHAIN_DIR/fixture.log" 2>&1; then
    fail chain_fixture "STOP contract: $(tail -3 "$CHAIN_DIR/fixture.log")"
    return 1
  fi
  CHAIN_FIXTURE_MS=$(($(_chain_ms) - t0))
  export FIX_OS_IMAGE FIX_KMS_MR FIX_KMS_DEVICE FIX_APP_DEVICE FIX_COMPOSE FIX_GATEWAY_APP_ID \
    APP_ADDR DEAD_APP_ADDR STOP_APP_ADDR CHAIN_FIXTURE_MS
}

chain_stall() {
  _CHAIN_STALLED=1
  chain_rpc evm_setIntervalMining '[0]' | grep -q '"result"'
}

chain_unstall() {
  _CHAIN_STALLED=0
  _chain_apply_mining
}

chain_freeze() { kill -STOP "$CHAIN_PID"; }
chain_thaw() { kill -CONT "$CHAIN_PID"; }

chain_stop() {
  [ -n "$CHAIN_PID" ] || return 0
  kill -CONT "$CHAIN_PID" 2>/dev/null
  kill -TERM "$CHAIN_PID" 2>/dev/null
  for _ in $(seq 100); do
    kill -0 "$CHAIN_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$CHAIN_PID" 2>/dev/null
  wait "$CHAIN_PID" 2>/dev/null
  CHAIN_PID=""
  return 0
}

chain_restart() {
  for _ in 1 2 3 4 5; do
    if _chain_launch; then
      [ "${_CHAIN_STALLED:-0}" = 1 ] && _chain_apply_mining
      export CHAIN_PID
      return 0
    fi
    kill "$CHAIN_PID" 2>/dev/null
    wait "$CHAIN_PID" 2>/dev/null
    sleep 0.2 # the port may still be held
  done
  fail chain_restart "anvil did not come back on port $CHAIN_PORT: $(tail -3 "$CHAIN_DIR/anvil.log")"
  return 1
}
