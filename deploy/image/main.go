// Command image builds the personfleet container image without a Docker
// daemon: it cross-compiles the four static binaries (CGO_ENABLED=0,
// -trimpath) and writes an OCI image layout as one tarball — oci-layout,
// index.json, blobs/sha256/… — with a single layer holding
// /usr/local/bin/{command-worker,policy-worker,projector,personctl},
// /etc/passwd and /etc/group with the nonroot user (65532), its home, /tmp
// and the CA bundle, and a config that runs as 65532:65532. For a single
// platform it also writes Docker's manifest.json, so `docker load` and
// `podman load` take the file as it is; `skopeo copy
// oci-archive:dist/personfleet-image.tar docker://REGISTRY/personfleet:TAG`
// pushes it.
//
// The output is reproducible: file times are SOURCE_DATE_EPOCH (0 when
// unset), entries are sorted, and the Go build is deterministic.
//
// It lives in its own module so the product module's dependency graph stays
// as it is; `make image` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
)

func main() {
	var o Options
	var platforms string
	flag.StringVar(&o.Source, "src", "../..", "root of the personfleet repository (the main module)")
	flag.StringVar(&o.Out, "out", "../../dist/personfleet-image.tar", "the OCI image layout tarball to write")
	flag.StringVar(&platforms, "platforms", "linux/amd64", "comma-separated GOOS/GOARCH list; more than one makes a multi-platform index")
	flag.StringVar(&o.Name, "name", "personfleet", "image name recorded for `docker load` (io.containerd.image.name, RepoTags)")
	flag.StringVar(&o.Tag, "tag", "0.1.0", "image tag (org.opencontainers.image.ref.name)")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificates copied to /etc/ssl/certs/ca-certificates.crt (empty: none)")
	flag.Parse()
	o.Platforms = strings.Split(platforms, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d bytes): %s:%s %s\n", o.Out, res.Size, o.Name, o.Tag, res.Digest)
}
