package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks the Dockerfile offline (no daemon here): it builds
// every binary the chart runs, statically, into a distroless nonroot final
// stage, copies only sources that exist, and keeps the context to them.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	// Join continuation lines and drop comments to read instructions.
	var instrs []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instrs = append(instrs, line)
	}
	var froms, copies []string
	var user, build string
	for _, in := range instrs {
		word, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			froms = append(froms, rest)
		case "COPY":
			copies = append(copies, rest)
		case "USER":
			user = rest
		case "RUN":
			if strings.Contains(rest, "go build") {
				build = rest
			}
		case "ARG", "WORKDIR", "ENV", "LABEL", "CMD":
		default:
			t.Errorf("unexpected instruction %q", word)
		}
	}
	if len(froms) != 2 || !regexp.MustCompile(`golang:1\.26\b`).MatchString(froms[0]) ||
		!strings.HasPrefix(froms[1], "gcr.io/distroless/static:nonroot") {
		t.Errorf("stages %q: want golang:1.26 then gcr.io/distroless/static:nonroot", froms)
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532", user)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "GOOS=$TARGETOS", "GOARCH=$TARGETARCH"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build lacks %s: %s", want, build)
		}
	}
	for _, name := range Binaries {
		if !strings.Contains(build, "./cmd/"+name) {
			t.Errorf("go build does not build ./cmd/%s", name)
		}
		if _, err := os.Stat(filepath.Join("..", "..", "cmd", name)); err != nil {
			t.Errorf("./cmd/%s: %v", name, err)
		}
	}
	// Every COPY from the context names something that exists and that
	// the .dockerignore lets through.
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range copies {
		if strings.HasPrefix(c, "--from=") {
			if !strings.Contains(c, "/usr/local/bin/") {
				t.Errorf("final COPY %q: want the binaries in /usr/local/bin", c)
			}
			continue
		}
		fields := strings.Fields(c)
		for _, src := range fields[:len(fields)-1] {
			if _, err := os.Stat(filepath.Join("..", "..", src)); err != nil {
				t.Errorf("COPY %s: %v", src, err)
			}
			if !strings.Contains(string(ignore), "!"+src) {
				t.Errorf("COPY %s: Dockerfile.dockerignore does not let it through", src)
			}
		}
	}
}
