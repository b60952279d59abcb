package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Verify checks a cached snapshot the way `hf cache verify` does, without
// a request: every file trees/<commit>.json lists must be present and
// hash to its id (the LFS sha256, else the git blob sha1), and every
// snapshot entry that links to a blob must hash to the blob's name. It
// returns one line per problem; none means the snapshot is intact.
func (c *Client) Verify(repo, rev string) ([]string, error) {
	if rev == "" {
		rev = "main"
	}
	rc, err := c.repoCache(repo)
	if err != nil {
		return nil, &Error{Op: "verify", Repo: repo, Rev: rev, Err: err}
	}
	commit := rc.cachedCommit(rev)
	if commit == "" {
		return nil, &Error{Op: "verify", Repo: repo, Rev: rev, Err: ErrOfflineNotCached}
	}
	dir := rc.snapshot(commit)
	var problems []string
	checked := map[string]bool{}
	if t, ok := rc.readTree(commit); ok {
		for f, e := range t.Files {
			if ValidateFile(f) != nil {
				problems = append(problems, fmt.Sprintf("%s: invalid path in trees/%s.json", f, commit))
				continue
			}
			want := e.BlobID
			if e.LFSSHA256 != "" {
				want = e.LFSSHA256
			}
			p := rc.pointer(commit, f)
			if !present(p) {
				problems = append(problems, f+": missing")
				continue
			}
			checked[f] = true
			if msg := checkHash(p, want); msg != "" {
				problems = append(problems, f+": "+msg)
			}
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if checked[rel] {
			return nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		name := filepath.Base(target)
		if !etagRE.MatchString(name) {
			return nil
		}
		if !present(p) {
			problems = append(problems, rel+": broken link to "+target)
		} else if msg := checkHash(p, name); msg != "" {
			problems = append(problems, rel+": "+msg)
		}
		return nil
	})
	if err != nil {
		return nil, &Error{Op: "verify", Repo: repo, Rev: rev, Err: err}
	}
	slices.Sort(problems)
	return problems, nil
}

// checkHash hashes a file as the hub names it (sha256 for a 64-hex id, the
// git blob sha1 for a 40-hex one) and describes a mismatch, or returns "".
func checkHash(p, want string) string {
	f, err := os.Open(p)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	var h hash.Hash
	switch len(want) {
	case 64:
		h = sha256.New()
	case 40:
		h = sha1.New()
		fmt.Fprintf(h, "blob %d\x00", st.Size())
	default:
		return fmt.Sprintf("unknown id %q", want)
	}
	if _, err := io.Copy(h, f); err != nil {
		return err.Error()
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Sprintf("content hash %s, want %s", got, want)
	}
	return ""
}
