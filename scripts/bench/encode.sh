#!/usr/bin/env bash
# Encode engine vs the bare goavro codec and hamba/avro, measured in the same
# run, on a 10-field record (pkg/encode/bench_test.go, hamba_bench_test.go).
# Usage: scripts/bench/encode.sh [benchtime]   (default 2s)
#
# References ("bare codec" = what a user of goavro alone needs for the same job):
#   encode: natural JSON text -> json.Unmarshal -> union wrapping -> BinaryFromNative
#           (EncodeCodecFromJSON); the pure BinaryFromNative figure (EncodeCodec) is printed too
#   decode: Avro binary -> NativeFromBinary -> union unwrapping -> json.Marshal
#           (DecodeCodecToJSON); the pure NativeFromBinary figure (DecodeCodec) is printed too
#   hamba (github.com/hamba/avro/v2, evaluated in docs/architecture.md): the same jobs from
#   its map API (EncodeHambaFromJSON, DecodeHambaToJSON), its struct API for information
#   (EncodeHambaStruct: a Go type per schema), container files (OCF*), and decoding through
#   a reader schema (Resolve*).
# Target: the engine adds under 30% over the reference (ratio engine/reference <= 1.30).
set -euo pipefail
cd "$(dirname "$0")/../.."
bt="${1:-2s}"
out=$(go test ./pkg/encode/ -run '^$' -bench 'Encode|Decode|Resolve' -benchtime "$bt" -count 1)
echo "$out" | grep -E '^Benchmark' >&2
echo "$out" | awk '
/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); sub(/^Benchmark/, "", name); ns[name]=$3 }
function r(a, b) { return ns[a]/ns[b] }
function line(label, a, b,   x) { x=r(a,b); printf "%-62s %5.2fx time (%+.0f%%)%s\n", label, x, (x-1)*100, (x<=1.30 ? "  meets <=1.30" : "  MISSES <=1.30") }
END {
  printf "%-22s %12s %10s\n", "benchmark", "msgs/s", "ns/msg"
  n = split("EncodeEngine EncodeCodecFromJSON EncodeHambaFromJSON EncodeHambaStruct EncodeCodec EncodeCodecJSON EncodeEngineMap DecodeEngine DecodeCodecToJSON DecodeHambaToJSON DecodeCodec DecodeCodecJSON OCFEncodeEngine OCFEncodeHamba OCFDecodeEngine OCFDecodeHamba ResolveEngine ResolveHamba", order, " ")
  for (i=1; i<=n; i++) if (order[i] in ns) printf "%-22s %12.0f %10.0f\n", order[i], 1e9/ns[order[i]], ns[order[i]]
  printf "\n10-field record, same run. ratio = engine time / reference time (target <= 1.30):\n"
  line("encode: engine (JSON text) / goavro JSON text->Unmarshal->binary", "EncodeEngine", "EncodeCodecFromJSON")
  line("decode: engine (-> JSON)   / goavro binary->native->json.Marshal", "DecodeEngine", "DecodeCodecToJSON")
  printf "\nhamba/avro, same jobs (ratio < 1: the engine is faster):\n"
  printf "%-62s %5.2fx time\n", "encode: engine / hamba JSON text->Unmarshal->map->binary", r("EncodeEngine", "EncodeHambaFromJSON")
  printf "%-62s %5.2fx time\n", "decode: engine / hamba binary->map->json.Marshal", r("DecodeEngine", "DecodeHambaToJSON")
  printf "%-62s %5.2fx time\n", "container file write: engine / hamba ocf.Encoder", r("OCFEncodeEngine", "OCFEncodeHamba")
  printf "%-62s %5.2fx time\n", "container file read: engine / hamba ocf.Decoder", r("OCFDecodeEngine", "OCFDecodeHamba")
  printf "%-62s %5.2fx time\n", "reader-schema resolution: engine / hamba Resolve+Unmarshal", r("ResolveEngine", "ResolveHamba")
  printf "%-62s %5.2fx time\n", "encode: engine / hamba struct API (a Go type per schema)", r("EncodeEngine", "EncodeHambaStruct")
  printf "\nfor information (references that skip part of the job):\n"
  printf "%-62s %5.2fx time\n", "encode: engine (JSON text) / goavro BinaryFromNative only", r("EncodeEngine", "EncodeCodec")
  printf "%-62s %5.2fx time\n", "encode: engine (parsed map) / goavro BinaryFromNative only", r("EncodeEngineMap", "EncodeCodec")
  printf "%-62s %5.2fx time\n", "decode: engine (-> JSON)   / goavro NativeFromBinary only", r("DecodeEngine", "DecodeCodec")
}'
