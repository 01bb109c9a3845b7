package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Binaries are the entry points of the image, built from ./cmd/<name>.
var Binaries = []string{"command-worker", "policy-worker", "projector", "personctl"}

// The user the image runs as (distroless' "nonroot").
const (
	UID     = 65532
	GID     = 65532
	User    = "65532:65532"
	Home    = "/home/nonroot"
	BinDir  = "/usr/local/bin"
	CAPath  = "/etc/ssl/certs/ca-certificates.crt"
	version = "0.1.0"
)

// Media types of the OCI image spec.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Options of one build.
type Options struct {
	Source    string   // repository root
	Out       string   // tarball path
	Platforms []string // GOOS/GOARCH
	Name, Tag string
	CABundle  string // host CA bundle to copy ("" : none)
}

// Result of a build: the digest of index.json's single entry (the image
// manifest, or the platform index) and the tarball's size.
type Result struct {
	Digest string
	Size   int64
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform of a manifest.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        Descriptor        `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []Descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type imageConfig struct {
	Created      string        `json:"created"`
	Author       string        `json:"author,omitempty"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Variant      string        `json:"variant,omitempty"`
	Config       runConfig     `json:"config"`
	RootFS       rootFS        `json:"rootfs"`
	History      []historyItem `json:"history"`
}

type runConfig struct {
	User       string            `json:"User"`
	Env        []string          `json:"Env"`
	WorkingDir string            `json:"WorkingDir"`
	Cmd        []string          `json:"Cmd,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type historyItem struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
	Comment   string `json:"comment,omitempty"`
}

// blobs collects the content-addressed files of the layout.
type blobs map[string][]byte

func (b blobs) add(data []byte) (digest string) {
	sum := sha256.Sum256(data)
	digest = "sha256:" + hex.EncodeToString(sum[:])
	b[digest] = data
	return digest
}

func (b blobs) addJSON(mediaType string, v any) (Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Descriptor{}, err
	}
	return Descriptor{MediaType: mediaType, Digest: b.add(data), Size: int64(len(data))}, nil
}

// epoch is the time stamped on every file and in the config.
func epoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Build compiles the binaries and writes the layout tarball.
func Build(ctx context.Context, o Options) (Result, error) {
	if len(o.Platforms) == 0 {
		return Result{}, errors.New("no platform")
	}
	if o.Name == "" || o.Tag == "" {
		return Result{}, errors.New("name and tag are required")
	}
	src, err := filepath.Abs(o.Source)
	if err != nil {
		return Result{}, err
	}
	if _, err := os.Stat(filepath.Join(src, "cmd", "personctl")); err != nil {
		return Result{}, fmt.Errorf("%s is not the personfleet repository: %w", src, err)
	}
	created, err := epoch()
	if err != nil {
		return Result{}, err
	}
	var ca []byte
	if o.CABundle != "" {
		if ca, err = os.ReadFile(o.CABundle); err != nil {
			return Result{}, fmt.Errorf("CA bundle (use -ca-bundle= for none): %w", err)
		}
	}
	work, err := os.MkdirTemp("", "personfleet-image-")
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = os.RemoveAll(work) }()

	b := blobs{}
	var manifests []Descriptor
	var dockerLayers []string
	var dockerConfig string
	for _, p := range o.Platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos != "linux" || goarch == "" {
			return Result{}, fmt.Errorf("platform %q: want linux/<arch>", p)
		}
		bin := filepath.Join(work, goos+"-"+goarch)
		if err := compile(ctx, src, bin, goos, goarch); err != nil {
			return Result{}, err
		}
		layer, diffID, err := buildLayer(bin, ca, created)
		if err != nil {
			return Result{}, err
		}
		layerDesc := Descriptor{MediaType: mediaLayer, Digest: b.add(layer), Size: int64(len(layer))}
		cfg := imageConfig{
			Created: created.Format(time.RFC3339), Architecture: goarch, OS: goos,
			Config: runConfig{
				User: User,
				Env: []string{
					"PATH=" + BinDir + ":/usr/bin:/bin",
					"SSL_CERT_FILE=" + CAPath,
					"HOME=" + Home,
				},
				WorkingDir: Home,
				Cmd:        []string{BinDir + "/personctl", "--help"},
				Labels:     labels(o, created),
			},
			RootFS: rootFS{Type: "layers", DiffIDs: []string{diffID}},
			History: []historyItem{{
				Created:   created.Format(time.RFC3339),
				CreatedBy: "deploy/image: CGO_ENABLED=0 go build -trimpath ./cmd/" + strings.Join(Binaries, " ./cmd/"),
			}},
		}
		cfgDesc, err := b.addJSON(mediaConfig, cfg)
		if err != nil {
			return Result{}, err
		}
		m, err := b.addJSON(mediaManifest, manifest{
			SchemaVersion: 2, MediaType: mediaManifest, Config: cfgDesc, Layers: []Descriptor{layerDesc},
			Annotations: labels(o, created),
		})
		if err != nil {
			return Result{}, err
		}
		m.Platform = &Platform{Architecture: goarch, OS: goos}
		manifests = append(manifests, m)
		dockerLayers = append(dockerLayers, "blobs/sha256/"+strings.TrimPrefix(layerDesc.Digest, "sha256:"))
		dockerConfig = "blobs/sha256/" + strings.TrimPrefix(cfgDesc.Digest, "sha256:")
	}

	ref := map[string]string{
		"org.opencontainers.image.ref.name": o.Tag,
		"io.containerd.image.name":          o.Name + ":" + o.Tag,
	}
	top := manifests[0]
	if len(manifests) > 1 {
		top, err = b.addJSON(mediaIndex, index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: manifests})
		if err != nil {
			return Result{}, err
		}
	}
	top.Annotations = ref
	indexJSON, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []Descriptor{top}})
	if err != nil {
		return Result{}, err
	}
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": indexJSON,
	}
	if len(manifests) == 1 {
		// Docker's own format next to the OCI layout, for `docker load`
		// of older daemons and tools that read only it.
		dm, err := json.Marshal([]map[string]any{{
			"Config": dockerConfig, "RepoTags": []string{o.Name + ":" + o.Tag}, "Layers": dockerLayers,
		}})
		if err != nil {
			return Result{}, err
		}
		files["manifest.json"] = dm
	}
	for d, data := range b {
		files["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] = data
	}
	size, err := writeTar(o.Out, files, created)
	if err != nil {
		return Result{}, err
	}
	return Result{Digest: top.Digest, Size: size}, nil
}

func labels(o Options, created time.Time) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "personfleet",
		"org.opencontainers.image.description": "command-worker, policy-worker, projector and personctl (static, non-root)",
		"org.opencontainers.image.source":      "https://github.com/personfleet/personfleet",
		"org.opencontainers.image.version":     o.Tag,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}
}

// compile builds the static binaries of one platform into dir.
func compile(ctx context.Context, src, dir, goos, goarch string) error {
	args := []string{"build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", dir + string(filepath.Separator)}
	for _, name := range Binaries {
		args = append(args, "./cmd/"+name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s (%s/%s): %w\n%s", strings.Join(args, " "), goos, goarch, err, stderr.String())
	}
	return nil
}

// buildLayer returns the gzipped layer and its diff id (the digest of the
// uncompressed tar).
func buildLayer(binDir string, ca []byte, mtime time.Time) (gz []byte, diffID string, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dir := func(name string, mode int64, uid, gid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", UID, GID, Home)
	group := fmt.Sprintf("root:x:0:\nnobody:x:65534:\nnonroot:x:%d:\n", GID)
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0, 0) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return dir("etc/ssl", 0o755, 0, 0) },
		func() error { return dir("etc/ssl/certs", 0o755, 0, 0) },
		func() error {
			if ca == nil {
				return nil
			}
			return file(strings.TrimPrefix(CAPath, "/"), 0o644, ca)
		},
		func() error { return dir("home", 0o755, 0, 0) },
		func() error { return dir(strings.TrimPrefix(Home, "/"), 0o700, UID, GID) },
		func() error { return dir("tmp", 0o1777, 0, 0) },
		func() error { return dir("usr", 0o755, 0, 0) },
		func() error { return dir("usr/local", 0o755, 0, 0) },
		func() error { return dir("usr/local/bin", 0o755, 0, 0) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, "", err
		}
	}
	names := slices.Clone(Binaries)
	slices.Sort(names)
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(binDir, name))
		if err != nil {
			return nil, "", err
		}
		if err := file(strings.TrimPrefix(BinDir, "/")+"/"+name, 0o755, data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(raw.Bytes())
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// writeTar writes the layout's files (sorted, with their directories) as
// one tarball, atomically.
func writeTar(path string, files map[string][]byte, mtime time.Time) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".personfleet-image-*")
	if err != nil {
		return 0, err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	tw := tar.NewWriter(tmp)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return 0, err
		}
	}
	for _, n := range names {
		data := files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return 0, err
		}
		if _, err := tw.Write(data); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	st, err := tmp.Stat()
	if err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	renamed = true
	return st.Size(), nil
}
