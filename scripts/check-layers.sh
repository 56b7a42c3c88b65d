#!/usr/bin/env bash
# check-layers.sh — the include rules of the layout (README "Layout"): a
# folder under src/ includes headers only of the folders below it, and
# dstack-kmsctl includes nothing of src/kms/ but its config reader. Prints
# every offending line and exits 1 when one is found.
set -u
cd "$(dirname "$0")/.."
# rank: a file may include a header of a folder with a rank <= its own
# (same folder allowed); programs are ranked above everything they use.
rank() {
  case "$1" in
    util) echo 0 ;; net) echo 1 ;;
    crypto) echo 2 ;; attest | abi) echo 3 ;;
    prpc | collateral | audit) echo 4 ;;
    kms) echo 5 ;; kmsctl | auth-eth) echo 6 ;;
    *) echo 99 ;;
  esac
}
bad=0
while IFS= read -r line; do
  file=${line%%:*}
  rest=${line#*:}
  rest=${rest#*:}
  from=$(echo "$file" | cut -d/ -f2)
  to=$(echo "$rest" | sed -n 's/^#include "\([^/"]*\)\/.*/\1/p')
  [ -n "$to" ] || continue
  [ -d "src/$to" ] || continue
  [ "$from" = "$to" ] && continue
  rf=$(rank "$from")
  rt=$(rank "$to")
  ok=1
  if [ "$rt" -ge "$rf" ]; then ok=0; fi
  # the two programs beside the KMS never use its services ...
  if [ "$to" = kms ] && [ "$from" != kms ]; then
    ok=0
    # ... except kmsctl's use of the kms.toml reader (kmsctl verify)
    if [ "$from" = kmsctl ] && echo "$rest" | grep -q '"kms/config.h"'; then ok=1; fi
  fi
  if [ "$from" = kmsctl ] && [ "$to" = auth-eth ]; then ok=0; fi
  if [ "$from" = auth-eth ] && [ "$to" = kmsctl ]; then ok=0; fi
  if [ $ok = 0 ]; then
    echo "layer violation: $file includes $to/: ${rest}"
    bad=1
  fi
done < <(grep -rn '^#include "' src --include='*.c' --include='*.h')
if [ $bad = 0 ]; then
  echo "check-layers: every include points down"
fi
exit $bad
