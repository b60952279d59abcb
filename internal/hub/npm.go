package hub

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxExtractBytes bounds the unpacked size of a package, against
// decompression bombs.
const maxExtractBytes = 16 << 30

// FetchNPM downloads the tarball of npm package pkg ("name" or
// "@scope/name") at an exact version, verifies it against integrity (a
// Subresource Integrity string such as "sha512-<base64>", as in
// package-lock.json; required) before unpacking anything, and extracts it
// into {NPMDir}/{pkg}@{version}/, stripping the tarball's top folder
// ("package/"). It returns that folder. A package already in the cache is not
// fetched again.
//
// Only regular files and folders are extracted; symbolic links and other
// special entries are skipped. An entry whose path would leave the
// destination is an error. Nothing is left in the cache on failure.
func (c *Client) FetchNPM(ctx context.Context, pkg, version, integrity string) (string, error) {
	base, err := validNPMName(pkg)
	if err != nil {
		return "", fmt.Errorf("npm: %w", err)
	}
	if err := validVersion(version); err != nil {
		return "", fmt.Errorf("npm: %s: %w", pkg, err)
	}
	sri, err := parseIntegrity(integrity)
	if err != nil {
		return "", fmt.Errorf("npm: %s@%s: %w", pkg, version, err)
	}
	root := c.npmDir()
	dest := filepath.Join(root, filepath.FromSlash(pkg)+"@"+version)
	if ok, err := exists(dest); err != nil {
		return "", fmt.Errorf("npm: %w", err)
	} else if ok {
		return dest, nil
	}
	if c.offline() {
		return "", &Error{Op: "offline", Repo: pkg, Rev: version, Err: fmt.Errorf("%w: npm package %s@%s", ErrOfflineNotCached, pkg, version)}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("npm: %w", err)
	}

	url := c.npmRegistry() + "/" + pkg + "/-/" + base + "-" + version + ".tgz"
	tgz, err := c.downloadVerified(ctx, url, root, sri)
	if err != nil {
		return "", fmt.Errorf("npm: %s@%s: %w", pkg, version, err)
	}
	defer func() {
		tgz.Close()
		os.Remove(tgz.Name())
	}()

	tmpDir, err := os.MkdirTemp(root, ".tmp-extract-*")
	if err != nil {
		return "", fmt.Errorf("npm: %w", err)
	}
	if err := extractTarGz(tgz, tmpDir); err != nil {
		os.RemoveAll(tmpDir)
		return "", fmt.Errorf("npm: %s@%s: extract %s: %w", pkg, version, url, err)
	}
	if err := os.Chmod(tmpDir, 0o755); err != nil { // MkdirTemp makes it 0700
		os.RemoveAll(tmpDir)
		return "", fmt.Errorf("npm: %w", err)
	}
	if err := os.Rename(tmpDir, dest); err != nil {
		os.RemoveAll(tmpDir)
		// Another process may have installed the same package meanwhile.
		if ok, _ := exists(dest); ok {
			return dest, nil
		}
		return "", fmt.Errorf("npm: %w", err)
	}
	return dest, nil
}

// downloadVerified downloads url into a temporary file under dir, checks it
// against sri, and returns the file positioned at its start. The caller
// closes and removes it.
func (c *Client) downloadVerified(ctx context.Context, url, dir string, sri *integrity) (_ *os.File, err error) {
	body, size, err := c.get(ctx, url, "")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	f, err := os.CreateTemp(dir, ".tmp-download-*.tgz")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sri.newHash()
	n, err := io.Copy(io.MultiWriter(f, h), body)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", url, err)
	}
	if size >= 0 && n != size {
		return nil, fmt.Errorf("download %s: received %d bytes, want %d", url, n, size)
	}
	if err := sri.check(h.Sum(nil)); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return f, nil
}

// integrity is the strongest supported hash of a Subresource Integrity
// string, with the digests it may match.
type integrity struct {
	alg     string
	newHash func() hash.Hash
	digests [][]byte
}

var sriAlgorithms = []struct {
	name string
	new  func() hash.Hash
}{ // strongest first
	{"sha512", sha512.New},
	{"sha384", sha512.New384},
	{"sha256", sha256.New},
	{"sha1", sha1.New},
}

// parseIntegrity parses an SRI string: whitespace-separated "alg-base64"
// entries, each optionally followed by "?options". As SRI prescribes, only
// the strongest algorithm present is used.
func parseIntegrity(s string) (*integrity, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("integrity string is required")
	}
	byAlg := make(map[string][][]byte)
	for _, tok := range strings.Fields(s) {
		tok, _, _ = strings.Cut(tok, "?")
		alg, b64, ok := strings.Cut(tok, "-")
		if !ok {
			return nil, fmt.Errorf("malformed integrity entry %q", tok)
		}
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("malformed integrity entry %q: %v", tok, err)
		}
		byAlg[alg] = append(byAlg[alg], d)
	}
	for _, a := range sriAlgorithms {
		if ds, ok := byAlg[a.name]; ok {
			return &integrity{alg: a.name, newHash: a.new, digests: ds}, nil
		}
	}
	return nil, fmt.Errorf("integrity %q has no supported algorithm (sha512, sha384, sha256, sha1)", s)
}

func (i *integrity) check(sum []byte) error {
	for _, d := range i.digests {
		if subtle.ConstantTimeCompare(d, sum) == 1 {
			return nil
		}
	}
	return fmt.Errorf("integrity mismatch: got %s-%s, want %s-%s",
		i.alg, base64.StdEncoding.EncodeToString(sum), i.alg, base64.StdEncoding.EncodeToString(i.digests[0]))
}

// extractTarGz unpacks a gzip-compressed tar into dir, dropping the first
// path element of every entry.
func extractTarGz(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var total int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := stripTarPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg: // the reader also reports the old TypeRegA as TypeReg
			total += hdr.Size
			if hdr.Size < 0 || total > maxExtractBytes {
				return fmt.Errorf("package unpacks to more than %d bytes", int64(maxExtractBytes))
			}
			perm := os.FileMode(0o644)
			if hdr.Mode&0o111 != 0 {
				perm = 0o755
			}
			if err := writeFile(target, tr, perm, hdr.Size); err != nil {
				return fmt.Errorf("%s: %w", hdr.Name, err)
			}
		default:
			// Symbolic links, hard links, devices: not needed, not extracted.
		}
	}
}

// stripTarPath validates a tar entry name and drops its first element. It
// returns "" for the top folder itself.
func stripTarPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("unsafe path %q in archive", name)
	}
	var segs []string
	for _, s := range strings.Split(name, "/") {
		switch s {
		case "", ".":
		case "..":
			return "", fmt.Errorf("unsafe path %q in archive", name)
		default:
			segs = append(segs, s)
		}
	}
	if len(segs) <= 1 {
		return "", nil
	}
	rel := strings.Join(segs[1:], "/")
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("unsafe path %q in archive", name)
	}
	return rel, nil
}

func writeFile(path string, r io.Reader, perm os.FileMode, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes, want %d", n, size)
	}
	return err
}
