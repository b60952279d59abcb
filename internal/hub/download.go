package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errRangeIgnored: a ranged GET came back 200 with the whole body (CloudFront
// does this when it compresses).
var errRangeIgnored = errors.New("the server ignored Range")

// maxHTTPSize is huggingface_hub's limit for a plain HTTP download; bigger
// files need Xet.
const maxHTTPSize = 50_000_000_000

// meta is what a HEAD on the resolve URL says about a file.
type meta struct {
	commit   string
	etag     string
	size     int64
	location string // where to GET: the CDN for LFS files, else the resolve URL
}

// resolveURL is {endpoint}/{repo}/resolve/{rev}/{file}, the revision escaped
// as one segment and each path segment escaped.
func (c *Client) resolveURL(repo, rev, file string) (string, error) {
	f, err := validFile(file)
	if err != nil {
		return "", err
	}
	return c.endpoint() + "/" + repo + "/resolve/" + url.PathEscape(rev) + "/" + f, nil
}

// head sends the metadata request: HEAD without following absolute
// redirects (their target is the CDN, whose headers are not the hub's),
// following relative ones (a renamed repository) with the token.
func (c *Client) head(ctx context.Context, repo, rev, file string) (*meta, error) {
	u, err := c.resolveURL(repo, rev, file)
	if err != nil {
		return nil, &Error{Op: "HEAD", Repo: repo, Rev: rev, File: file, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.etagTimeout())
	defer cancel()
	for range 5 {
		req, err := c.newRequest(ctx, http.MethodHead, u, true)
		if err != nil {
			return nil, err
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, &Error{Op: "HEAD", Repo: repo, Rev: rev, File: file, URL: stripQuery(u), Err: scrub(err)}
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode/100 == 3 {
			loc, err := req.URL.Parse(h.Get("Location"))
			if err != nil || h.Get("Location") == "" {
				return nil, &Error{Op: "HEAD", Repo: repo, Rev: rev, File: file, URL: stripQuery(u), StatusCode: resp.StatusCode, Err: ErrBadMetadata}
			}
			if parsed, _ := url.Parse(h.Get("Location")); parsed != nil && parsed.Host == "" {
				u = loc.String() // relative: a renamed repository
				continue
			}
			// Absolute: an LFS file on the CDN; the hub's headers are here.
			return c.readMeta(h, loc.String(), resp.StatusCode, repo, rev, file, u)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, classify("HEAD", resp, repo, rev, file, stripQuery(u))
		}
		return c.readMeta(h, u, resp.StatusCode, repo, rev, file, u)
	}
	return nil, &Error{Op: "HEAD", Repo: repo, Rev: rev, File: file, URL: stripQuery(u), Err: errors.New("too many redirects")}
}

func (c *Client) readMeta(h http.Header, location string, status int, repo, rev, file, u string) (*meta, error) {
	bad := func(what string) error {
		return &Error{Op: "HEAD", Repo: repo, Rev: rev, File: file, URL: stripQuery(u), Err: fmt.Errorf("%w: %s", ErrBadMetadata, what)}
	}
	m := &meta{commit: h.Get("X-Repo-Commit"), location: location}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	m.etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	size := h.Get("X-Linked-Size")
	if size == "" && status/100 != 3 {
		size = h.Get("Content-Length")
	}
	var err error
	if m.size, err = strconv.ParseInt(size, 10, 64); err != nil || m.size < 0 {
		return nil, bad("no size")
	}
	// Both become path components: only hash-shaped values may.
	if !IsCommit(m.commit) {
		return nil, bad("no commit (X-Repo-Commit)")
	}
	if !etagRE.MatchString(m.etag) {
		return nil, bad(fmt.Sprintf("etag %q is not a sha1 or sha256", m.etag))
	}
	if m.size > maxHTTPSize {
		return nil, &Error{Op: "HEAD", Repo: repo, Rev: rev, File: file, Err: ErrTooLarge}
	}
	return m, nil
}

// scrub removes a URL's query string (a signature) from a transport error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, stripQuery(ue.URL), ue.Err)
	}
	return err
}

// Download returns the path of a repository file in the cache,
// snapshots/<commit>/<file>, downloading it if needed, as
// huggingface_hub's hf_hub_download does:
//   - rev a full commit whose file is cached: no request;
//   - offline: the cached file of rev's commit (the commit itself or
//     refs/<rev>), else an error wrapping ErrOfflineNotCached naming the
//     file;
//   - otherwise one HEAD (giving commit, etag and size), then a GET only
//     when the blob is missing. When the HEAD fails for a network, 5xx,
//     429, 401 or 403 reason and the file is cached, the cached file is
//     returned.
//
// rev "" means "main".
func (c *Client) Download(ctx context.Context, repo, rev, file string) (string, error) {
	if rev == "" {
		rev = "main"
	}
	rc, err := c.repoCache(repo)
	if err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	if _, err := validRevision(rev); err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	if err := ValidateFile(file); err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	if commit := rc.cachedCommit(rev); commit != "" {
		p := rc.pointer(commit, file)
		if err := under(rc.snapshot(commit), p); err != nil {
			return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
		}
		if IsCommit(rev) && present(p) {
			return p, nil
		}
		if IsCommit(rev) && present(rc.noExist(commit, file)) {
			return "", &Error{Op: "cache", Repo: repo, Rev: rev, File: file, Err: ErrFileNotFound}
		}
		if c.offline() && present(p) {
			return p, nil
		}
	}
	if c.offline() {
		return "", c.offlineError(repo, rev, file)
	}
	m, err := c.headRetry(ctx, rc, repo, rev, file)
	if err != nil {
		return "", err
	}
	return c.fetchBlob(ctx, rc, repo, rev, file, m)
}

func (c *Client) offlineError(repo, rev, file string) error {
	return &Error{Op: "offline", Repo: repo, Rev: rev, File: file,
		Err: fmt.Errorf("%w (offline mode, HF_HUB_OFFLINE)", ErrOfflineNotCached)}
}

// headRetry sends the HEAD. A failure that allows it is answered from the
// cache at once (the first HEAD is not retried, so that fallback stays
// fast); a retryable failure with nothing cached is retried with backoff.
func (c *Client) headRetry(ctx context.Context, rc *repoCache, repo, rev, file string) (*meta, error) {
	wait := retryBase
	for try := 0; ; try++ {
		m, err := c.head(ctx, repo, rev, file)
		if err == nil {
			return m, nil
		}
		var he *Error
		if errors.As(err, &he) && he.Err == ErrFileNotFound && IsCommit(he.commitHint()) {
			// Remember the absence, as huggingface_hub does; best effort.
			_ = touch(rc.noExist(he.commitHint(), file))
			_ = rc.writeRef(rev, he.commitHint())
		}
		if !fallsBackToCache(err) {
			return nil, err
		}
		if commit := rc.cachedCommit(rev); commit != "" && present(rc.pointer(commit, file)) {
			c.logger().Warn("hub: using the cached file, the hub did not answer", "repo", repo, "rev", rev, "file", file, "err", err)
			return &meta{commit: commit, etag: cachedOnly}, nil
		}
		if !errors.As(err, &he) || (he.StatusCode != 0 && !retryable(he.StatusCode)) || errors.Is(he.Err, ErrBadMetadata) || try == 4 || ctx.Err() != nil {
			return nil, unreachable(err)
		}
		if d := he.retryAfter; d > 0 {
			wait = d
		}
		select {
		case <-ctx.Done():
			return nil, unreachable(err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 8*retryBase)
	}
}

// cachedOnly marks a meta answered from the cache.
const cachedOnly = "cached"

func touch(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// fetchBlob makes snapshots/<commit>/<file> exist for the HEAD's answer:
// it links an existing blob, or downloads the blob under its lock.
func (c *Client) fetchBlob(ctx context.Context, rc *repoCache, repo, rev, file string, m *meta) (string, error) {
	pointer := rc.pointer(m.commit, file)
	if err := under(rc.snapshot(m.commit), pointer); err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	if m.etag == cachedOnly {
		return pointer, nil
	}
	blob := rc.blob(m.etag)
	if present(pointer) {
		// Up to date: nothing to write beyond a moved ref (best effort, so
		// a read-only cache works).
		_ = rc.writeRef(rev, m.commit)
		return pointer, nil
	}
	for _, d := range []string{filepath.Dir(blob), filepath.Dir(pointer)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
		}
	}
	rc.cacheDirTag()
	if err := rc.writeRef(rev, m.commit); err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	unlock, err := lock(ctx, rc.lockFile(m.etag))
	if err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	defer unlock()
	if !present(blob) {
		if err := c.downloadBlob(ctx, rc, repo, rev, file, m, blob); err != nil {
			return "", err
		}
	}
	if err := rc.link(blob, pointer, c.noSymlinks()); err != nil {
		return "", &Error{Repo: repo, Rev: rev, File: file, Err: err}
	}
	return pointer, nil
}

// downloadBlob streams the file into blobs/<etag>.<random>.incomplete,
// hashing as it writes, resuming a cut transfer with Range, and renames it
// to blobs/<etag> only when size and hash match. Nothing is left behind on
// failure.
func (c *Client) downloadBlob(ctx context.Context, rc *repoCache, repo, rev, file string, m *meta, blob string) (err error) {
	fail := func(e error) error {
		var he *Error
		if errors.As(e, &he) {
			return e
		}
		return &Error{Op: "GET", Repo: repo, Rev: rev, File: file, Err: e}
	}
	tmp := blob + "." + randHex() + ".incomplete"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var h hash.Hash
	if len(m.etag) == 64 {
		h = sha256.New()
	} else {
		h = sha1.New()
		fmt.Fprintf(h, "blob %d\x00", m.size)
	}
	var written int64
	report := func() {
		if c.Progress != nil {
			c.Progress(Progress{Repo: repo, File: file, Done: written, Total: m.size})
		}
	}
	report()
	location := m.location
	reheaded := false
	stalls := 0
	wait := retryBase
	for written < m.size || m.size == 0 {
		n, status, gerr := c.getRange(ctx, location, written, io.MultiWriter(f, h), &written, m.size, report, repo, rev, file)
		if gerr == nil && written == m.size {
			break
		}
		if gerr == nil {
			// A clean end short of the size: the server sent what it
			// meant to, and it is not the file the hub announced.
			gerr = fmt.Errorf("%w: the body ended after %d of the %d bytes the hub announced", ErrIntegrity, written, m.size)
		}
		if errors.Is(gerr, errRangeIgnored) {
			// The server ignored Range: start again from zero.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fail(err)
			}
			if err := f.Truncate(0); err != nil {
				return fail(err)
			}
			h.Reset()
			if len(m.etag) == 40 {
				fmt.Fprintf(h, "blob %d\x00", m.size)
			}
			written = 0
			continue
		}
		if (status == http.StatusForbidden || status == http.StatusGone) && !reheaded {
			// The signed CDN URL expired: ask the hub for a fresh one, once.
			reheaded = true
			m2, err := c.head(ctx, repo, m.commit, file)
			if err != nil {
				return err
			}
			location = m2.location
			continue
		}
		var he *Error
		if errors.As(gerr, &he) && he.StatusCode != 0 && !retryable(he.StatusCode) || errors.Is(gerr, ErrIntegrity) {
			return fail(gerr)
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if n > 0 {
			stalls = 0
			wait = retryBase
		} else {
			stalls++
		}
		if stalls >= 5 {
			return fail(gerr)
		}
		c.logger().Info("hub: download interrupted, resuming", "repo", repo, "file", file, "at", written, "err", gerr)
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 8*retryBase)
		if m.size == 0 {
			break
		}
	}
	if written != m.size {
		return &Error{Op: "GET", Repo: repo, Rev: rev, File: file, Err: fmt.Errorf("%w: received %d bytes, the hub announced %d", ErrIntegrity, written, m.size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.etag {
		return &Error{Op: "GET", Repo: repo, Rev: rev, File: file, Err: fmt.Errorf("%w: content hash %s, the hub announced %s", ErrIntegrity, got, m.etag)}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp, fileMode(filepath.Dir(blob))); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, blob); err != nil {
		return fail(err)
	}
	return nil
}

// getRange sends one GET from offset and copies the body into w, counting
// into *written. The token goes only to the hub's own host; a CDN URL gets
// a fresh request without it. It returns the bytes copied, the HTTP status,
// and errRangeIgnored when a Range request was answered with the whole body
// (the caller restarts from zero, as huggingface_hub does).
func (c *Client) getRange(ctx context.Context, u string, offset int64, w io.Writer, written *int64, total int64,
	report func(), repo, rev, file string) (int64, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hubURL, _ := url.Parse(c.endpoint())
	for range 5 {
		target, err := url.Parse(u)
		if err != nil {
			return 0, 0, err
		}
		auth := hubURL != nil && target.Host == hubURL.Host && target.Scheme == hubURL.Scheme
		req, err := c.newRequest(ctx, http.MethodGet, u, auth)
		if err != nil {
			return 0, 0, err
		}
		if offset > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
		// Connect and each read are bounded, not the whole transfer.
		idle := time.AfterFunc(c.downloadTimeout(), cancel)
		resp, err := c.httpClient().Do(req)
		if err != nil {
			idle.Stop()
			return 0, 0, scrub(err)
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			idle.Stop()
			resp.Body.Close()
			next, err := req.URL.Parse(loc)
			if err != nil {
				return 0, 0, err
			}
			u = next.String()
			continue
		}
		defer resp.Body.Close()
		switch {
		case offset > 0 && resp.StatusCode == http.StatusOK:
			idle.Stop()
			return 0, resp.StatusCode, errRangeIgnored
		case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent:
			idle.Stop()
			e := classify("GET", resp, repo, rev, file, stripQuery(u))
			return 0, resp.StatusCode, e
		}
		var n int64
		buf := make([]byte, 256<<10)
		lastReport := *written
		for {
			idle.Reset(c.downloadTimeout())
			k, rerr := resp.Body.Read(buf)
			if k > 0 {
				if *written+int64(k) > total {
					idle.Stop()
					return n, resp.StatusCode, fmt.Errorf("%w: more bytes than the %d the hub announced", ErrIntegrity, total)
				}
				if _, err := w.Write(buf[:k]); err != nil {
					idle.Stop()
					return n, resp.StatusCode, err
				}
				n += int64(k)
				*written += int64(k)
				if *written-lastReport >= 1<<20 || *written == total {
					lastReport = *written
					report()
				}
			}
			if rerr == io.EOF {
				idle.Stop()
				return n, resp.StatusCode, nil
			}
			if rerr != nil {
				idle.Stop()
				return n, resp.StatusCode, scrub(rerr)
			}
		}
	}
	return 0, 0, errors.New("too many redirects")
}
