package hub

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	etagRE   = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

// IsCommit reports whether rev is a full commit id (lower-case 40 hex;
// upper case is a ref name to the hub, as to huggingface_hub).
func IsCommit(rev string) bool { return commitRE.MatchString(rev) }

// RepoFolder is a repository's folder name in the cache:
// "models--org--name".
func RepoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}

// repoCache is one repository's folder in the cache.
type repoCache struct {
	root    string // cache root
	repo    string
	storage string // root/models--org--name
}

func (c *Client) repoCache(repo string) (*repoCache, error) {
	if _, err := validRepo(repo); err != nil {
		return nil, err
	}
	root := c.cacheDir()
	return &repoCache{root: root, repo: repo, storage: filepath.Join(root, RepoFolder(repo))}, nil
}

func (rc *repoCache) blob(etag string) string { return filepath.Join(rc.storage, "blobs", etag) }

func (rc *repoCache) snapshot(commit string) string {
	return filepath.Join(rc.storage, "snapshots", commit)
}

func (rc *repoCache) pointer(commit, file string) string {
	return filepath.Join(rc.snapshot(commit), filepath.FromSlash(file))
}

func (rc *repoCache) noExist(commit, file string) string {
	return filepath.Join(rc.storage, ".no_exist", commit, filepath.FromSlash(file))
}

func (rc *repoCache) lockFile(etag string) string {
	return filepath.Join(rc.root, ".locks", RepoFolder(rc.repo), etag+".lock")
}

func (rc *repoCache) ref(rev string) string {
	return filepath.Join(rc.storage, "refs", filepath.FromSlash(rev))
}

// readRef returns the commit a cached ref names, trimmed (huggingface_hub
// writes none, but a hand-edited ref may end in a newline), or "".
func (rc *repoCache) readRef(rev string) string {
	data, err := os.ReadFile(rc.ref(rev))
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(data))
	if !IsCommit(c) {
		return ""
	}
	return c
}

// cachedCommit is the commit a revision names without asking the hub: the
// revision itself when it is a commit, else its ref.
func (rc *repoCache) cachedCommit(rev string) string {
	if IsCommit(rev) {
		return rev
	}
	return rc.readRef(rev)
}

// writeRef records rev -> commit: exactly 40 hex characters, no newline,
// written atomically and only when it changes (so a read-only cache that
// is up to date is never written).
func (rc *repoCache) writeRef(rev, commit string) error {
	if rev == commit {
		return nil
	}
	p := rc.ref(rev)
	if old, err := os.ReadFile(p); err == nil && string(old) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + "." + randHex() + ".tmp"
	if err := os.WriteFile(tmp, []byte(commit), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// cacheDirTag creates CACHEDIR.TAG at the root when absent, ignoring errors
// (as huggingface_hub does).
func (rc *repoCache) cacheDirTag() {
	p := filepath.Join(rc.root, "CACHEDIR.TAG")
	if _, err := os.Lstat(p); err == nil {
		return
	}
	_ = os.WriteFile(p, []byte("Signature: 8a477f597d28d172789f06886806bc55\n"+
		"# This file is a cache directory tag created by huggingface_hub (written here by sie).\n"+
		"# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n"), 0o644)
}

// link makes snapshots/<commit>/<file> point at blob: a relative symlink,
// or a copy when symlinks are off or unsupported. A stale entry is replaced.
func (rc *repoCache) link(blob, pointer string, noSymlinks bool) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	if _, err := os.Lstat(pointer); err == nil {
		if err := os.Remove(pointer); err != nil {
			return err
		}
	}
	if !noSymlinks {
		rel, err := filepath.Rel(filepath.Dir(pointer), blob)
		if err == nil {
			if err = os.Symlink(rel, pointer); err == nil {
				return nil
			}
		}
	}
	return copyFile(blob, pointer)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + "." + randHex() + ".incomplete"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// present reports whether a snapshot entry resolves to a file (a symlink
// to an existing blob, or a regular file).
func present(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// fileMode is the mode a new file gets in dir under the umask (and any
// default ACL), found with a probe file as huggingface_hub does: blobs made
// with os.CreateTemp would be 0600 and unreadable to other users of a
// shared cache.
func fileMode(dir string) os.FileMode {
	p := filepath.Join(dir, ".probe-"+randHex())
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return 0o644
	}
	f.Close()
	defer os.Remove(p)
	st, err := os.Stat(p)
	if err != nil {
		return 0o644
	}
	return st.Mode().Perm()
}

func randHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidateFile checks a repository path before it touches the disk: no
// "..", absolute, drive or UNC path under POSIX or Windows rules.
func ValidateFile(file string) error {
	_, err := validFile(file)
	return err
}

// under reports whether p stays inside root.
func under(root, p string) error {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("path %q leaves %q", p, root)
	}
	return nil
}
