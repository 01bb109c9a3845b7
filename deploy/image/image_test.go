package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// buildOnce builds the image of the host's architecture into a temporary
// directory (the Go build cache makes the second build of a run quick).
func buildOnce(t *testing.T, out string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ca := "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(ca); err != nil {
		ca = ""
	}
	res, err := Build(ctx, Options{
		Source: "../..", Out: out, Platforms: []string{"linux/" + runtime.GOARCH},
		Name: "personfleet", Tag: "test", CABundle: ca,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// untar extracts the layout tarball into a directory.
func untar(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("tar entry %q escapes the layout", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected entry %q type %c in the layout", h.Name, h.Typeflag)
		}
	}
	return dir
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

// filesystem flattens the image's layers into a map path → entry.
func filesystem(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	fs := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fs
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fs["/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = entry{h, data}
	}
}

func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "personfleet-image.tar")
	res := buildOnce(t, out)

	// The OCI layout, read by go-containerregistry.
	lp, err := layout.FromPath(untar(t, out))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json has %d entries, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.Digest.String() != res.Digest {
		t.Errorf("index.json points at %s, Build reported %s", desc.Digest, res.Digest)
	}
	if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != "test" {
		t.Errorf("ref.name = %q, want test", got)
	}
	if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
		t.Errorf("platform = %+v", desc.Platform)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	// Every digest, size and diff id agrees with the content.
	if err := validate.Image(img); err != nil {
		t.Fatalf("image: %v", err)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532", cf.Config.User)
	}
	if cf.Config.WorkingDir != Home {
		t.Errorf("WorkingDir = %q, want %s", cf.Config.WorkingDir, Home)
	}
	if !containsPrefix(cf.Config.Env, "PATH=/usr/local/bin") {
		t.Errorf("Env %v lacks PATH with /usr/local/bin", cf.Config.Env)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("config platform %s/%s", cf.OS, cf.Architecture)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Errorf("%d layers, want 1", len(layers))
	}

	fs := filesystem(t, img)
	for _, name := range Binaries {
		p := BinDir + "/" + name
		e, ok := fs[p]
		if !ok {
			t.Errorf("%s missing", p)
			continue
		}
		if e.hdr.Mode&0o777 != 0o755 || e.hdr.Uid != 0 {
			t.Errorf("%s: mode %o uid %d, want 755 owned by root", p, e.hdr.Mode, e.hdr.Uid)
		}
		f, err := elf.NewFile(bytes.NewReader(e.data))
		if err != nil {
			t.Errorf("%s: not ELF: %v", p, err)
			continue
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked (has an interpreter)", p)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s links %v", p, libs)
		}
		// The binary of the host's architecture runs: -h exits 0.
		if name != "personctl" {
			bin := filepath.Join(dir, name)
			if err := os.WriteFile(bin, e.data, 0o755); err != nil {
				t.Fatal(err)
			}
			if outp, err := exec.Command(bin, "-h").CombinedOutput(); err != nil {
				t.Errorf("%s -h: %v\n%s", name, err, outp)
			}
		}
	}
	if !strings.Contains(string(fs["/etc/passwd"].data), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd lacks nonroot 65532:\n%s", fs["/etc/passwd"].data)
	}
	if !strings.Contains(string(fs["/etc/group"].data), "nonroot:x:65532:") {
		t.Errorf("/etc/group lacks nonroot 65532:\n%s", fs["/etc/group"].data)
	}
	if h := fs[Home].hdr; h == nil || h.Uid != UID || h.Typeflag != tar.TypeDir {
		t.Errorf("%s is not a directory owned by %d", Home, UID)
	}
	if h := fs["/tmp"].hdr; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp is not a sticky world-writable directory")
	}

	// Docker's manifest.json in the same tarball names the same config and
	// layer: go-containerregistry's tarball reader sees the same image.
	timg, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(timg); err != nil {
		t.Fatalf("docker tarball image: %v", err)
	}
	for _, pair := range [][2]func() (v1.Hash, error){
		{img.ConfigName, timg.ConfigName},
		{func() (v1.Hash, error) { return layerDigest(img) }, func() (v1.Hash, error) { return layerDigest(timg) }},
	} {
		a, err := pair[0]()
		if err != nil {
			t.Fatal(err)
		}
		b, err := pair[1]()
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("OCI layout and docker manifest disagree: %s vs %s", a, b)
		}
	}

	// Reproducible: a second build writes the same bytes.
	out2 := filepath.Join(dir, "again.tar")
	res2 := buildOnce(t, out2)
	if res2.Digest != res.Digest {
		t.Errorf("rebuild digest %s, first %s: the build is not reproducible", res2.Digest, res.Digest)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("rebuild wrote a different tarball")
	}
}

func layerDigest(img v1.Image) (v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil || len(ls) == 0 {
		return v1.Hash{}, errors.Join(err, errors.New("no layer"))
	}
	return ls[0].Digest()
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestPlatformsRejected(t *testing.T) {
	_, err := Build(context.Background(), Options{Source: "../..", Out: filepath.Join(t.TempDir(), "x.tar"), Platforms: []string{"windows/amd64"}, Name: "p", Tag: "t"})
	if err == nil || !strings.Contains(err.Error(), "want linux") {
		t.Fatalf("err = %v, want a refusal of windows", err)
	}
}
