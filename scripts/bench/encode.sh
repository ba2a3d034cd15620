#!/usr/bin/env bash
# Encode engine vs bare goavro codec, measured in the same run.
# Usage: scripts/bench/encode.sh [benchtime]   (default 2s)
# Prints msgs/s for each and the engine's overhead ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/deimos ] || make build >/dev/null 2>&1 || true
bt="${1:-2s}"
out=$(go test ./pkg/encode/ -run '^$' -bench 'Encode|Decode' -benchtime "$bt" -count 1)
echo "$out" | grep -E '^Benchmark' >&2
echo "$out" | awk '
/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); ns[name]=$3 }
END {
  printf "%-18s %12s\n", "benchmark", "msgs/s"
  for (n in ns) printf "%-18s %12.0f\n", n, 1e9/ns[n]
  printf "\n10-field record, engine (natural JSON) vs goavro in the same run:\n"
  printf "encode: engine/JSON vs codec native->binary   %.2fx time (overhead %+.0f%%)\n", ns["EncodeEngine"]/ns["EncodeCodec"], (ns["EncodeEngine"]/ns["EncodeCodec"]-1)*100
  printf "encode: engine/JSON vs codec Avro-JSON->binary %.2fx time (overhead %+.0f%%)\n", ns["EncodeEngine"]/ns["EncodeCodecJSON"], (ns["EncodeEngine"]/ns["EncodeCodecJSON"]-1)*100
  printf "encode: engine/map  vs codec native->binary   %.2fx time (overhead %+.0f%%)\n", ns["EncodeEngineMap"]/ns["EncodeCodec"], (ns["EncodeEngineMap"]/ns["EncodeCodec"]-1)*100
  printf "decode: engine->JSON vs codec binary->native   %.2fx time (overhead %+.0f%%)\n", ns["DecodeEngine"]/ns["DecodeCodec"], (ns["DecodeEngine"]/ns["DecodeCodec"]-1)*100
  printf "decode: engine->JSON vs codec binary->Avro-JSON %.2fx time (overhead %+.0f%%)\n", ns["DecodeEngine"]/ns["DecodeCodecJSON"], (ns["DecodeEngine"]/ns["DecodeCodecJSON"]-1)*100
}'
