// Command bundle lays out the file-server's static directory: the
// lifecycle bundle from built builder, launcher and healthcheck binaries,
// and a zip per buildpack (`make build` runs it).
package main

import (
	"flag"
	"fmt"
	"os"

	"diego/ccbridge/lifecycle/bundle"
)

func main() {
	bin := flag.String("bin", "", "directory holding builder, launcher and healthcheck")
	buildpacks := flag.String("buildpacks", "deploy/buildpacks", "directory of buildpack directories")
	out := flag.String("out", "", "static directory to fill")
	flag.Parse()
	if *bin == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "bundle: -bin and -out are required")
		os.Exit(2)
	}
	if err := bundle.Write(*out, *bin, *buildpacks); err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
}
