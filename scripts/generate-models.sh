#!/usr/bin/env bash
# Regenerates the Go code for models/*.proto: protobuf types (protoc-gen-go)
# and Diego-shaped JSON methods (protoc-gen-diegojson); and the dropsonde
# envelopes in metron/events/*.proto. Needs protoc from
# Debian's protobuf-compiler; installs the Go plugins it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }
bin="$PWD/bin/tools"
mkdir -p "$bin"
go build -o "$bin/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$bin/protoc-gen-diegojson" ./scripts/protoc-gen-diegojson
# Files are compiled relative to the repository root, so each registers under
# its own path (models/error.proto, metron/events/error.proto): two files of
# one name would collide in the protobuf registry of a binary linking both.
gen() { # gen DIR [EXTRA PROTOC ARGS]: every .proto in DIR
	local dir=$1
	shift
	rm -f "$dir"/*.pb.go "$dir"/*.json.go
	protoc -I . -I /usr/include \
		--plugin=protoc-gen-go="$bin/protoc-gen-go" --go_out=. --go_opt=paths=source_relative \
		"$@" "$dir"/*.proto
}
gen models \
	--plugin=protoc-gen-diegojson="$bin/protoc-gen-diegojson" --diegojson_out=. --diegojson_opt=paths=source_relative
gen metron/events
