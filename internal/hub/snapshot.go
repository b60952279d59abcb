package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// SnapshotOptions tune Snapshot.
type SnapshotOptions struct {
	// Select picks, from the repository's file list, the files to
	// download; nil downloads every file.
	Select func(files []string) []string
	// Complete reports whether an existing snapshot folder already holds
	// what the caller needs. It lets a pinned commit, or offline mode, use
	// a snapshot that has no trees/<commit>.json (one written by
	// hf_hub_download, file by file) without a request. Nil means only a
	// listing decides.
	Complete func(dir string) bool
}

// treeCache is trees/<commit>.json as huggingface_hub (>= 1.22) writes it.
type treeCache struct {
	FormatVersion int                  `json:"format_version"`
	Files         map[string]treeEntry `json:"files"`
}

type treeEntry struct {
	Size      int64  `json:"size"`
	BlobID    string `json:"blob_id"`
	LFSSHA256 string `json:"lfs_sha256,omitempty"`
	LFSSize   int64  `json:"lfs_size,omitempty"`
}

// Snapshot returns snapshots/<commit>/ of a repository at rev ("" means
// main) with the selected files in it, as huggingface_hub's
// snapshot_download does:
//   - a full commit already complete in the cache: no request;
//   - offline: the snapshot of rev's commit (the commit itself or
//     refs/<rev>) when complete, else ErrOfflineNotCached;
//   - otherwise one request resolves rev to a commit, the listing of that
//     commit is read (from trees/<commit>.json or the hub, following
//     pages), and each selected file missing from the snapshot is
//     downloaded (see Download), several at a time.
func (c *Client) Snapshot(ctx context.Context, repo, rev string, opts SnapshotOptions) (string, error) {
	if rev == "" {
		rev = "main"
	}
	rc, err := c.repoCache(repo)
	if err != nil {
		return "", &Error{Repo: repo, Rev: rev, Err: err}
	}
	if _, err := validRevision(rev); err != nil {
		return "", &Error{Repo: repo, Rev: rev, Err: err}
	}
	if commit := rc.cachedCommit(rev); commit != "" && (IsCommit(rev) || c.offline()) {
		missing, ok := c.complete(rc, commit, opts)
		if ok {
			return rc.snapshot(commit), nil
		}
		if c.offline() && missing != "" {
			return "", c.offlineError(repo, rev, missing)
		}
	}
	if c.offline() {
		return "", c.offlineError(repo, rev, "no snapshot in "+rc.storage)
	}
	commit, err := c.revision(ctx, repo, rev)
	if err != nil {
		if fallsBackToCache(err) {
			if cached := rc.cachedCommit(rev); cached != "" {
				if _, ok := c.complete(rc, cached, opts); ok {
					c.logger().Warn("hub: using the cached snapshot, the hub did not answer", "repo", repo, "rev", rev, "err", err)
					return rc.snapshot(cached), nil
				}
			}
		}
		return "", unreachable(err)
	}
	tree, err := c.tree(ctx, rc, repo, commit)
	if err != nil {
		return "", err
	}
	files := make([]string, 0, len(tree.Files))
	for f := range tree.Files {
		files = append(files, f)
	}
	slices.Sort(files)
	if opts.Select != nil {
		files = opts.Select(files)
	}
	if err := c.downloadAll(ctx, repo, commit, files); err != nil {
		return "", err
	}
	dir := rc.snapshot(commit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", &Error{Repo: repo, Rev: rev, Err: err}
	}
	_ = rc.writeRef(rev, commit)
	return dir, nil
}

// complete reports whether the snapshot of commit holds the selected files:
// by its trees/<commit>.json when there is one, else by opts.Complete. It
// returns a missing file's name when it knows one.
func (c *Client) complete(rc *repoCache, commit string, opts SnapshotOptions) (string, bool) {
	dir := rc.snapshot(commit)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false
	}
	if t, ok := rc.readTree(commit); ok {
		files := make([]string, 0, len(t.Files))
		for f := range t.Files {
			files = append(files, f)
		}
		slices.Sort(files)
		if opts.Select != nil {
			files = opts.Select(files)
		}
		for _, f := range files {
			if ValidateFile(f) != nil || !present(rc.pointer(commit, f)) {
				return f, false
			}
		}
		return "", true
	}
	if opts.Complete != nil {
		return "", opts.Complete(dir)
	}
	return "", false
}

func (rc *repoCache) treePath(commit string) string {
	return filepath.Join(rc.storage, "trees", commit+".json")
}

func (rc *repoCache) readTree(commit string) (*treeCache, bool) {
	data, err := os.ReadFile(rc.treePath(commit))
	if err != nil {
		return nil, false
	}
	var t treeCache
	if json.Unmarshal(data, &t) != nil || t.FormatVersion != 1 || t.Files == nil {
		return nil, false
	}
	return &t, true
}

// revision resolves rev to a commit with GET /api/models/{repo}/revision/{rev}.
func (c *Client) revision(ctx context.Context, repo, rev string) (string, error) {
	u := c.endpoint() + "/api/models/" + repo + "/revision/" + url.PathEscape(rev)
	var info struct {
		SHA string `json:"sha"`
	}
	if _, err := c.getJSON(ctx, u, repo, rev, &info); err != nil {
		return "", err
	}
	if !IsCommit(info.SHA) {
		return "", &Error{Op: "GET", Repo: repo, Rev: rev, URL: u, Err: fmt.Errorf("%w: sha %q", ErrBadMetadata, info.SHA)}
	}
	return info.SHA, nil
}

// tree returns the listing of a commit, from trees/<commit>.json or from
// the hub's paginated tree endpoint (then written to trees/, complete).
func (c *Client) tree(ctx context.Context, rc *repoCache, repo, commit string) (*treeCache, error) {
	if t, ok := rc.readTree(commit); ok {
		return t, nil
	}
	t := &treeCache{FormatVersion: 1, Files: map[string]treeEntry{}}
	next := c.endpoint() + "/api/models/" + repo + "/tree/" + commit + "?recursive=true&expand=false"
	for pages := 0; next != ""; pages++ {
		if pages > 100000 {
			return nil, &Error{Op: "list", Repo: repo, Rev: commit, Err: errors.New("too many pages")}
		}
		var items []struct {
			Type string `json:"type"`
			Oid  string `json:"oid"`
			Size int64  `json:"size"`
			Path string `json:"path"`
			LFS  *struct {
				Oid  string `json:"oid"`
				Size int64  `json:"size"`
			} `json:"lfs"`
		}
		h, err := c.getJSON(ctx, next, repo, commit, &items)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.Type != "file" {
				continue
			}
			e := treeEntry{Size: it.Size, BlobID: it.Oid}
			if it.LFS != nil {
				e.LFSSHA256, e.LFSSize = it.LFS.Oid, it.LFS.Size
			}
			t.Files[it.Path] = e
		}
		next = nextLink(h.Get("Link"))
	}
	if data, err := json.MarshalIndent(t, "", " "); err == nil {
		p := rc.treePath(commit)
		if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
			tmp := p + "." + randHex() + ".tmp"
			if os.WriteFile(tmp, data, 0o644) == nil && os.Rename(tmp, p) != nil {
				os.Remove(tmp)
			}
		}
	}
	return t, nil
}

// getJSON GETs a hub API URL (with the token, following relative
// redirects) and decodes the answer.
func (c *Client) getJSON(ctx context.Context, u, repo, rev string, v any) (http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.etagTimeout())
	defer cancel()
	wait := retryBase
	for try := 0; ; try++ {
		req, err := c.newRequest(ctx, http.MethodGet, u, true)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, &Error{Op: "GET", Repo: repo, Rev: rev, URL: stripQuery(u), Err: scrub(err)}
		}
		if resp.StatusCode == http.StatusOK {
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				return nil, &Error{Op: "GET", Repo: repo, Rev: rev, URL: stripQuery(u), Err: fmt.Errorf("%w: %v", ErrBadMetadata, err)}
			}
			return resp.Header, nil
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" && try < 5 {
			next, err := req.URL.Parse(loc)
			if err != nil {
				return nil, err
			}
			u = next.String()
			continue
		}
		e := classify("GET", resp, repo, rev, "", stripQuery(u))
		if !retryable(resp.StatusCode) || try >= 4 {
			return nil, e
		}
		if e.retryAfter > 0 {
			wait = e.retryAfter
		}
		select {
		case <-ctx.Done():
			return nil, e
		case <-time.After(wait):
		}
		wait = min(wait*2, 8*retryBase)
	}
}

// nextLink returns the rel="next" URL of a Link header
// (`<url>; rel="next", <url>; rel="last"`), or "".
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		target, params, ok := strings.Cut(part, ";")
		target = strings.TrimSpace(target)
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "rel") && strings.EqualFold(strings.Trim(v, `"`), "next") {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}

// downloadAll downloads files at commit, a few at a time; the first error
// stops the rest.
func (c *Client) downloadAll(ctx context.Context, repo, commit string, files []string) error {
	workers := c.Workers
	if workers <= 0 {
		workers = 4
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		first   error
		jobs    = make(chan string)
		workerN = min(workers, max(len(files), 1))
	)
	for range workerN {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				if _, err := c.Download(ctx, repo, commit, f); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range files {
		select {
		case jobs <- f:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return first
}
