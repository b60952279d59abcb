package hub

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Sentinels for the hub's answers; match them with errors.Is.
var (
	ErrRepoNotFound     = errors.New("repository not found (or private: set HF_TOKEN)")
	ErrGated            = errors.New("gated repository: accept its conditions on the hub and set HF_TOKEN")
	ErrRevisionNotFound = errors.New("revision not found")
	ErrFileNotFound     = errors.New("file not found in the repository")
	ErrDisabled         = errors.New("repository disabled")
	ErrOfflineNotCached = errors.New("offline and not in the cache")
	ErrIntegrity        = errors.New("integrity check failed")
	ErrBadMetadata      = errors.New("the hub's answer lacks or garbles the file's metadata")
	ErrTooLarge         = errors.New("file over 50 GB: needs Xet, which sie does not support")
	// ErrUnreachable: the hub did not answer (connection, DNS, timeout) and
	// the files are not in the cache. Like huggingface_hub's
	// LocalEntryNotFoundError, it counts as not found.
	ErrUnreachable = errors.New("the hub could not be reached and the files are not in the cache")
)

// ErrNotFound is matched by every "does not exist" error: repository,
// revision, file, and npm package.
var ErrNotFound = errors.New("not found")

// Error is a failed hub or npm request. It never carries a token or a signed
// URL's query string.
type Error struct {
	Op         string // "HEAD", "GET", "list", "offline", "verify"
	Repo, Rev  string
	File       string
	URL        string // without query string
	StatusCode int
	Message    string // the server's X-Error-Message, if any
	Err        error  // one of the sentinels above, or a transport error

	commit     string        // X-Repo-Commit of an error answer
	retryAfter time.Duration // Retry-After of a 429 or 503
}

func (e *Error) commitHint() string { return e.commit }

func (e *Error) Error() string {
	msg := ""
	if e.Repo != "" {
		msg = e.Repo
		if e.Rev != "" {
			msg += "@" + e.Rev
		}
		if e.File != "" {
			msg += ": " + e.File
		}
		msg += ": "
	}
	switch {
	case e.Err != nil && e.StatusCode != 0:
		msg += fmt.Sprintf("%v (HTTP %d", e.Err, e.StatusCode)
		if e.Message != "" {
			msg += ": " + e.Message
		}
		msg += ")"
	case e.Err != nil:
		msg += e.Err.Error()
	default:
		msg += fmt.Sprintf("%s %s: HTTP %d %s", e.Op, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
		if e.Message != "" {
			msg += ": " + e.Message
		}
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes the not-found kinds match ErrNotFound.
func (e *Error) Is(target error) bool {
	if target != ErrNotFound {
		return false
	}
	for _, s := range []error{ErrRepoNotFound, ErrGated, ErrRevisionNotFound, ErrFileNotFound, ErrOfflineNotCached, ErrUnreachable} {
		if errors.Is(e.Err, s) {
			return true
		}
	}
	return e.StatusCode == http.StatusNotFound
}

// classify turns an error response into an *Error, as huggingface_hub's
// hf_raise_for_status does: X-Error-Code first, then X-Error-Message, then
// the status.
func classify(op string, resp *http.Response, repo, rev, file, u string) *Error {
	e := &Error{Op: op, Repo: repo, Rev: rev, File: file, URL: u, StatusCode: resp.StatusCode,
		Message: resp.Header.Get("X-Error-Message"), commit: resp.Header.Get("X-Repo-Commit")}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s <= 60 {
		e.retryAfter = time.Duration(s) * time.Second
	}
	code := resp.Header.Get("X-Error-Code")
	switch {
	case code == "RevisionNotFound":
		e.Err = ErrRevisionNotFound
	case code == "EntryNotFound":
		e.Err = ErrFileNotFound
	case code == "GatedRepo":
		e.Err = ErrGated
	case code == "RepoNotFound":
		e.Err = ErrRepoNotFound
	case e.Message == "Access to this resource is disabled.":
		e.Err = ErrDisabled
	case resp.StatusCode == http.StatusUnauthorized && e.Message != "Invalid credentials in Authorization header" && repo != "":
		e.Err = ErrRepoNotFound
	}
	return e
}

// retryable reports whether a status is worth another try: 408, 429, 5xx.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// fallsBackToCache reports whether a failed HEAD may be answered from the
// cache: network errors, 5xx, 429, 401, 403 and the like, but never a
// missing revision or file (huggingface_hub does the same).
func fallsBackToCache(err error) bool {
	var he *Error
	if errors.As(err, &he) {
		switch he.Err {
		case ErrRevisionNotFound, ErrFileNotFound, ErrIntegrity:
			return false
		}
	}
	return true
}

// unreachable marks a transport failure (no HTTP answer at all) as
// ErrUnreachable, keeping the cause in the message.
func unreachable(err error) error {
	var he *Error
	if !errors.As(err, &he) || he.StatusCode != 0 {
		return err
	}
	for _, s := range []error{ErrRepoNotFound, ErrGated, ErrRevisionNotFound, ErrFileNotFound, ErrOfflineNotCached,
		ErrDisabled, ErrIntegrity, ErrBadMetadata, ErrTooLarge, ErrUnreachable} {
		if errors.Is(he.Err, s) {
			return err
		}
	}
	e := *he
	e.Err = fmt.Errorf("%w: %w", ErrUnreachable, he.Err)
	return &e
}
