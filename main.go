// Command deimos is the shell-side toolbox for Deimos users: produce and
// consume schema-encoded topics, relay the transactional outbox, poll tables,
// check schema compatibility and migrate the tables they share with Deimos.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/deimos-cli/deimos/cmd"
	"github.com/deimos-cli/deimos/internal/cmdutil"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	f := &cmdutil.Factory{IO: cmdutil.System(), Version: buildVersion()}
	os.Exit(cmd.Run(context.Background(), f, os.Args[1:]))
}

// buildVersion prefers the stamped version; `go install …@vX` builds carry
// the module version instead.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}
