// Package hubtest is a fake Hugging Face hub for tests: repositories held in
// memory and served over HTTP the way huggingface.co serves them, with its
// CDN on a second listener under another host name, a log of every request
// and switches that make a chosen file fail in the ways the real hub and
// CDN fail.
//
// The hub listens on http://127.0.0.1:P1 and the CDN on
// http://localhost:P2, so a client that lets Go's redirect rule forward the
// Authorization header to the CDN is caught (the CDN answers 400, as S3
// does, and the request log records the header).
//
// Blob ids are computed as the hub computes them: the git blob sha1 of
// "blob <n>\x00"+data for ordinary files, the sha256 of the content for
// LFS files (chosen by extension, as the hub's default .gitattributes does).
//
// Typical use, serving a checkpoint under a repository id and loading it:
//
//	s := hubtest.New(t)
//	commit := s.Serve("org/name", map[string][]byte{"config.json": cfg, "tokenizer.json": tok, "model.safetensors": w})
//	// or s.ServeAt("org/name", pinnedCommit, files) when the caller pins a real commit
//	eng, _ := sie.Open(sie.Options{CacheDir: t.TempDir(), Hub: sie.HubOptions{Endpoint: s.URL}})
//	vecs, err := eng.Embed(ctx, "org/name", texts) // downloads from s into the cache
//	s.Requests()                                    // what was asked, of the hub and of the CDN
package hubtest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake hub and its CDN. Create it with New.
type Server struct {
	// URL is the hub endpoint (for HF_ENDPOINT), http://127.0.0.1:P1.
	URL string
	// CDNURL is the CDN's base URL, http://localhost:P2.
	CDNURL string

	hub, cdn *httptest.Server

	mu       sync.Mutex
	repos    map[string]*repo
	renamed  map[string]string // old id -> new id
	failures map[string]*Failure
	log      []Request
	seq      int
	hang     chan struct{}
}

// Request is one logged request.
type Request struct {
	Server         string // "hub" or "cdn"
	Method         string
	Path           string // escaped path, as sent
	Query          string
	Authorization  string
	Range          string
	AcceptEncoding string
}

// File is one file of a repository, with the hub's view of it.
type File struct {
	Path string
	Data []byte
	LFS  bool
	// Oid is the git blob sha1; SHA256 is set for LFS files. ETag is what
	// the hub reports as the file's etag (and the blob name in a cache):
	// SHA256 for LFS files, Oid otherwise.
	Oid, SHA256, ETag string
}

type repo struct {
	id       string
	branches map[string]string // branch or tag -> commit
	commits  map[string]map[string]*File
	gated    string // required token when non-empty
	disabled bool
}

// lfsExt are the extensions the hub's default .gitattributes stores in LFS.
var lfsExt = []string{".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".msgpack", ".model",
	".ot", ".gguf", ".npy", ".npz", ".pkl", ".tflite", ".zip", ".gz", ".tar", ".tgz", ".arrow", ".parquet"}

// IsLFS reports whether the fake hub stores a file in LFS: by extension, or
// when it is over 10 MiB.
func IsLFS(name string, size int) bool {
	return slices.Contains(lfsExt, path.Ext(name)) || size > 10<<20
}

// New starts a fake hub and its CDN; both stop when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		repos:    map[string]*repo{},
		renamed:  map[string]string{},
		failures: map[string]*Failure{},
		hang:     make(chan struct{}),
	}
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.cdn = httptest.NewUnstartedServer(http.HandlerFunc(s.serveCDN))
	s.cdn.Start()
	s.URL = s.hub.URL // 127.0.0.1
	_, port, _ := net.SplitHostPort(s.cdn.Listener.Addr().String())
	s.CDNURL = "http://localhost:" + port
	t.Cleanup(func() {
		close(s.hang)
		s.hub.CloseClientConnections()
		s.cdn.CloseClientConnections()
		s.hub.Close()
		s.cdn.Close()
	})
	return s
}

// Serve creates a commit on the repository's "main" branch holding exactly
// files (path -> content), creating the repository if needed, and returns
// the commit id.
func (s *Server) Serve(repoID string, files map[string][]byte) string {
	return s.Commit(repoID, "main", files)
}

// ServeAt is Serve with a given commit id (40 lower-case hex), for
// checkpoints whose callers pin a real commit (a catalog entry's
// revision): the files are served at that commit, and "main" points at it.
func (s *Server) ServeAt(repoID, commit string, files map[string][]byte) {
	s.commit(repoID, "main", commit, files)
}

// Commit creates a commit on branch (created or moved) holding exactly
// files, and returns the commit id.
func (s *Server) Commit(repoID, branch string, files map[string][]byte) string {
	return s.commit(repoID, branch, "", files)
}

func (s *Server) commit(repoID, branch, id string, files map[string][]byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoID]
	if r == nil {
		r = &repo{id: repoID, branches: map[string]string{}, commits: map[string]map[string]*File{}}
		s.repos[repoID] = r
	}
	tree := map[string]*File{}
	h := sha1.New()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	s.seq++
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00", repoID, branch, s.seq)
	for _, name := range names {
		f := NewFile(name, files[name])
		tree[name] = f
		fmt.Fprintf(h, "%s\x00%s\x00", name, f.ETag)
	}
	commit := hex.EncodeToString(h.Sum(nil))
	if id != "" {
		commit = id
	}
	r.commits[commit] = tree
	r.branches[branch] = commit
	return commit
}

// NewFile computes the hub's ids for a file.
func NewFile(name string, data []byte) *File {
	f := &File{Path: name, Data: data, LFS: IsLFS(name, len(data))}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	f.Oid = hex.EncodeToString(h.Sum(nil))
	f.ETag = f.Oid
	if f.LFS {
		sum := sha256.Sum256(data)
		f.SHA256 = hex.EncodeToString(sum[:])
		f.ETag = f.SHA256
	}
	return f
}

// Lookup returns a file of a repository at a revision (branch or commit).
func (s *Server) Lookup(repoID, rev, name string) (*File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoID]
	if r == nil {
		return nil, false
	}
	tree := r.commits[r.resolve(rev)]
	f, ok := tree[name]
	return f, ok
}

// Gate makes a repository gated: requests need "Authorization: Bearer
// token" (401 GatedRepo without a token, 403 GatedRepo with another one).
func (s *Server) Gate(repoID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[repoID].gated = token
}

// Disable makes a repository answer 403 "Access to this resource is disabled.".
func (s *Server) Disable(repoID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[repoID].disabled = true
}

// Rename makes oldID answer resolve requests with a 307 and a relative
// Location under newID, as the hub does for a renamed repository.
func (s *Server) Rename(oldID, newID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renamed[oldID] = newID
}

// Kind is a failure a Failure switch injects.
type Kind int

const (
	RepoNotFound     Kind = iota + 1 // 404 X-Error-Code: RepoNotFound
	RevisionNotFound                 // 404 X-Error-Code: RevisionNotFound
	EntryNotFound                    // 404 X-Error-Code: EntryNotFound, with X-Repo-Commit
	BadCredentials                   // 401 "Invalid credentials in Authorization header"
	RateLimited                      // 429 with Retry-After: 1
	ServerError                      // 500
	Unavailable                      // 503
	HangHead                         // the HEAD never answers (until the client gives up)
	NoCommitHeader                   // HEAD without X-Repo-Commit
	NoETag                           // HEAD without ETag / X-Linked-Etag
	CutBody                          // the body stops after Bytes bytes and the connection drops
	IgnoreRange                      // a Range request gets the whole body with 200
	FlipByte                         // one byte of the body is flipped
	ShortBody                        // the body is one byte short, served as complete
	PathETag                         // the etag is "../../evil"
	ExpiredURL                       // the CDN answers 403 (signature expired)
	SlowBody                         // the body comes in chunks of Bytes bytes, 50 ms apart
)

// Failure switches a file (or, with an empty path, every file) of a
// repository into a failure mode. Times is how many requests fail before the
// file behaves again; 0 means always.
type Failure struct {
	Kind  Kind
	Times int
	Bytes int // CutBody: bytes sent before the connection drops; SlowBody: chunk size
}

// Fail installs a failure for repoID's file (all files when file is "").
func (s *Server) Fail(repoID, file string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := f
	s.failures[repoID+"\x00"+file] = &ff
}

// ClearFailures removes every failure switch.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = map[string]*Failure{}
}

// takeFailure returns the failure of a file for one request matching kinds,
// counting it down.
func (s *Server) takeFailure(repoID, file string, kinds ...Kind) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{repoID + "\x00" + file, repoID + "\x00"} {
		f := s.failures[key]
		if f == nil || !slices.Contains(kinds, f.Kind) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				delete(s.failures, key)
			}
		}
		out := *f
		return &out
	}
	return nil
}

// Requests returns the logged requests, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Count returns how many logged requests match method (any when "") and
// whose escaped path contains substr.
func (s *Server) Count(method, substr string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.Contains(r.Path, substr) {
			n++
		}
	}
	return n
}

func (s *Server) record(server string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{
		Server: server, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"), Range: r.Header.Get("Range"),
		AcceptEncoding: r.Header.Get("Accept-Encoding"),
	})
}

func (r *repo) resolve(rev string) string {
	if c, ok := r.branches[rev]; ok {
		return c
	}
	if _, ok := r.commits[rev]; ok {
		return rev
	}
	return ""
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// checkAccess answers for a missing, gated or disabled repository and
// reports whether the request may go on.
func (s *Server) checkAccess(w http.ResponseWriter, r *http.Request, repoID string) (*repo, bool) {
	s.mu.Lock()
	rp := s.repos[repoID]
	s.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if f := s.takeFailure(repoID, "", BadCredentials); f != nil || (auth != "" && !strings.HasPrefix(auth, "Bearer ")) {
		hubError(w, 401, "", "Invalid credentials in Authorization header")
		return nil, false
	}
	if rp == nil {
		// The hub answers 401 for a missing repository, as for a private one.
		hubError(w, 401, "RepoNotFound", "Repository not found")
		return nil, false
	}
	if s.takeFailure(repoID, "", RepoNotFound) != nil {
		hubError(w, 404, "RepoNotFound", "Repository not found")
		return nil, false
	}
	if rp.disabled {
		hubError(w, 403, "", "Access to this resource is disabled.")
		return nil, false
	}
	if rp.gated != "" {
		switch auth {
		case "":
			hubError(w, 401, "GatedRepo", "Access to model "+repoID+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
			return nil, false
		case "Bearer " + rp.gated:
		default:
			hubError(w, 403, "GatedRepo", "Access to model "+repoID+" is restricted and you are not in the authorized list.")
			return nil, false
		}
	}
	return rp, true
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	p := r.URL.EscapedPath()
	if strings.HasPrefix(p, "/api/models/") {
		s.serveAPI(w, r, strings.TrimPrefix(p, "/api/models/"))
		return
	}
	before, after, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/resolve/")
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	repoID, err := url.PathUnescape(before)
	revEsc, fileEsc, ok2 := strings.Cut(after, "/")
	rev, err2 := url.PathUnescape(revEsc)
	file, err3 := url.PathUnescape(fileEsc)
	if err != nil || err2 != nil || err3 != nil || !ok2 {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	newID, moved := s.renamed[repoID]
	s.mu.Unlock()
	if moved {
		w.Header().Set("Location", "/"+newID+"/resolve/"+after)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	rp, ok := s.checkAccess(w, r, repoID)
	if !ok {
		return
	}
	s.mu.Lock()
	commit := rp.resolve(rev)
	var f *File
	if commit != "" {
		f = rp.commits[commit][file]
	}
	s.mu.Unlock()
	if commit == "" || s.takeFailure(repoID, file, RevisionNotFound) != nil {
		hubError(w, 404, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	if fail := s.takeFailure(repoID, file, RateLimited, ServerError, Unavailable); fail != nil {
		switch fail.Kind {
		case RateLimited:
			w.Header().Set("Retry-After", "1")
			hubError(w, 429, "", "rate limited")
		case ServerError:
			hubError(w, 500, "", "internal error")
		default:
			hubError(w, 503, "", "unavailable")
		}
		return
	}
	if f == nil || s.takeFailure(repoID, file, EntryNotFound) != nil {
		w.Header().Set("X-Repo-Commit", commit)
		hubError(w, 404, "EntryNotFound", file+" does not exist on \""+rev+"\"")
		return
	}
	if r.Method == http.MethodHead && s.takeFailure(repoID, file, HangHead) != nil {
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return
	}
	etag := f.ETag
	if s.takeFailure(repoID, file, PathETag) != nil {
		etag = "../../evil"
	}
	h := w.Header()
	if r.Method != http.MethodHead || s.takeFailure(repoID, file, NoCommitHeader) == nil {
		h.Set("X-Repo-Commit", commit)
	}
	noETag := r.Method == http.MethodHead && s.takeFailure(repoID, file, NoETag) != nil
	if f.LFS {
		if !noETag {
			h.Set("X-Linked-Etag", `"`+etag+`"`)
		}
		h.Set("X-Linked-Size", strconv.Itoa(len(f.Data)))
		// A decoy: the hub's own ETag of the redirect is not the content hash.
		h.Set("ETag", `"decoy-`+f.Oid+`"`)
		expires := time.Now().Add(time.Hour).Unix()
		h.Set("Location", fmt.Sprintf("%s/cdn/%s?Expires=%d&Signature=sig-%s&repo=%s&file=%s",
			s.CDNURL, f.SHA256, expires, f.Oid[:8], url.QueryEscape(repoID), url.QueryEscape(file)))
		w.WriteHeader(http.StatusFound)
		return
	}
	if !noETag {
		h.Set("ETag", `"`+etag+`"`)
	}
	s.serveBody(w, r, repoID, f)
}

// serveBody answers a GET or HEAD for content, with Range, gzip and the
// body failure switches.
func (s *Server) serveBody(w http.ResponseWriter, r *http.Request, repoID string, f *File) {
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	data := f.Data
	if r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		return
	}
	if fail := s.takeFailure(repoID, f.Path, FlipByte, ShortBody); fail != nil {
		data = slices.Clone(data)
		if fail.Kind == FlipByte {
			data[len(data)/2] ^= 0x01
		} else {
			data = data[:len(data)-1]
		}
	}
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && s.takeFailure(repoID, f.Path, IgnoreRange) == nil {
		var from, to int
		to = -1
		if n, _ := fmt.Sscanf(rg, "bytes=%d-%d", &from, &to); n < 1 || from > len(data) {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		if to < 0 || to >= len(data) {
			to = len(data) - 1
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
		data = data[from : to+1]
		status = http.StatusPartialContent
	}
	if fail := s.takeFailure(repoID, f.Path, CutBody); fail != nil {
		n := min(fail.Bytes, len(data))
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(status)
		w.Write(data[:n])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	if fail := s.takeFailure(repoID, f.Path, SlowBody); fail != nil {
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(status)
		chunk := max(fail.Bytes, 1)
		for len(data) > 0 {
			n := min(chunk, len(data))
			if _, err := w.Write(data[:n]); err != nil {
				return
			}
			data = data[n:]
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		return
	}
	if status == http.StatusOK && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		// Like the hub for text files: gzip, chunked, no Content-Length.
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		zw := gzip.NewWriter(w)
		zw.Write(data)
		zw.Close()
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data)
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	if r.Header.Get("Authorization") != "" {
		// S3: "Only one auth mechanism allowed".
		http.Error(w, "Only one auth mechanism allowed", http.StatusBadRequest)
		return
	}
	sha, ok := strings.CutPrefix(r.URL.Path, "/cdn/")
	q := r.URL.Query()
	repoID, file := q.Get("repo"), q.Get("file")
	if !ok || q.Get("Signature") == "" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	if s.takeFailure(repoID, file, ExpiredURL) != nil {
		http.Error(w, "Request has expired", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	var f *File
	for _, rp := range s.repos {
		for _, tree := range rp.commits {
			for _, ff := range tree {
				if ff.SHA256 == sha {
					f = ff
				}
			}
		}
	}
	s.mu.Unlock()
	if f == nil {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	// A storage ETag (S3's is an MD5), not the hub's content hash.
	w.Header().Set("ETag", `"s3-`+f.Oid+`"`)
	fc := *f
	fc.Path = file // failure switches are per repository file
	s.serveBody(w, r, repoID, &fc)
}

// treeEntry is one entry of the tree and paths-info endpoints.
type treeEntry struct {
	Type       string          `json:"type"`
	Oid        string          `json:"oid"`
	Size       int             `json:"size"`
	Path       string          `json:"path"`
	LFS        *lfsInfo        `json:"lfs,omitempty"`
	LastCommit *lastCommitInfo `json:"lastCommit,omitempty"`
}

type lfsInfo struct {
	Oid         string `json:"oid"`
	Size        int    `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

type lastCommitInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

func entryFor(f *File, commit string, expand bool) treeEntry {
	e := treeEntry{Type: "file", Oid: f.Oid, Size: len(f.Data), Path: f.Path}
	if f.LFS {
		e.LFS = &lfsInfo{Oid: f.SHA256, Size: len(f.Data), PointerSize: 134}
	}
	if expand {
		e.LastCommit = &lastCommitInfo{ID: commit, Title: "fake", Date: "2026-01-01T00:00:00.000Z"}
	}
	return e
}

// serveAPI serves /api/models/{repo}/revision/{rev}, /tree/{rev}[/{path}]
// and POST /paths-info/{rev}. The revision must arrive escaped as one
// segment.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rest string) {
	var repoEsc, op, tail string
	for _, o := range []string{"/revision/", "/tree/", "/paths-info/"} {
		if a, b, ok := strings.Cut(rest, o); ok {
			repoEsc, op, tail = a, strings.Trim(o, "/"), b
			break
		}
	}
	if op == "" {
		http.NotFound(w, r)
		return
	}
	repoID, _ := url.PathUnescape(repoEsc)
	rp, ok := s.checkAccess(w, r, repoID)
	if !ok {
		return
	}
	revEsc, subEsc, _ := strings.Cut(tail, "/")
	rev, _ := url.PathUnescape(revEsc)
	s.mu.Lock()
	commit := rp.resolve(rev)
	tree := rp.commits[commit]
	s.mu.Unlock()
	if commit == "" || s.takeFailure(repoID, "", RevisionNotFound) != nil {
		hubError(w, 404, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	slices.Sort(names)
	w.Header().Set("Content-Type", "application/json")
	switch op {
	case "revision":
		type sibling struct {
			Rfilename string   `json:"rfilename"`
			Size      *int     `json:"size,omitempty"`
			BlobID    string   `json:"blobId,omitempty"`
			LFS       *lfsInfo `json:"lfs,omitempty"`
		}
		blobs := r.URL.Query().Get("blobs") == "true"
		sib := []sibling{}
		for _, n := range names {
			f := tree[n]
			e := sibling{Rfilename: n}
			if blobs {
				size := len(f.Data)
				e.Size, e.BlobID = &size, f.Oid
				if f.LFS {
					e.LFS = &lfsInfo{Oid: f.SHA256, Size: size, PointerSize: 134}
				}
			}
			sib = append(sib, e)
		}
		json.NewEncoder(w).Encode(map[string]any{"_id": "fake-" + repoID, "id": repoID, "sha": commit, "private": false, "siblings": sib})
	case "tree":
		sub, _ := url.PathUnescape(subEsc)
		recursive := r.URL.Query().Get("recursive") == "true"
		expand := r.URL.Query().Get("expand") == "true"
		var entries []treeEntry
		dirs := map[string]bool{}
		for _, n := range names {
			rel := n
			if sub != "" {
				var ok bool
				if rel, ok = strings.CutPrefix(n, sub+"/"); !ok {
					continue
				}
			}
			if strings.Contains(rel, "/") {
				// Directories come before their files, as on the hub.
				parts := strings.Split(rel, "/")
				for i := 1; i < len(parts); i++ {
					dir := strings.Join(parts[:i], "/")
					if sub != "" {
						dir = sub + "/" + dir
					}
					if !dirs[dir] && (recursive || i == 1) {
						dirs[dir] = true
						entries = append(entries, treeEntry{Type: "directory", Oid: strings.Repeat("0", 40), Path: dir})
					}
				}
				if !recursive {
					continue
				}
			}
			entries = append(entries, entryFor(tree[n], commit, expand))
		}
		// Pages of two entries, chained with a Link header.
		cursor, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		end := min(cursor+2, len(entries))
		if cursor > len(entries) {
			cursor = len(entries)
		}
		if end < len(entries) {
			q := r.URL.Query()
			q.Set("cursor", strconv.Itoa(end))
			next := s.URL + r.URL.EscapedPath() + "?" + q.Encode()
			w.Header().Set("Link", "<"+next+`>; rel="next"`)
		}
		page := entries[cursor:end]
		if page == nil {
			page = []treeEntry{}
		}
		json.NewEncoder(w).Encode(page)
	case "paths-info":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var body struct {
			Paths  []string `json:"paths"`
			Expand bool     `json:"expand"`
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			json.NewDecoder(r.Body).Decode(&body)
		} else {
			r.ParseForm()
			body.Paths = r.PostForm["paths"]
			body.Expand = r.PostForm.Get("expand") == "true"
		}
		out := []treeEntry{}
		for _, p := range body.Paths {
			if f, ok := tree[p]; ok {
				out = append(out, entryFor(f, commit, body.Expand))
			}
		}
		json.NewEncoder(w).Encode(out)
	}
}

// Bytes returns n deterministic pseudo-random bytes, handy for weights.
func Bytes(n int, seed byte) []byte {
	var b bytes.Buffer
	x := uint32(seed) + 1
	for b.Len() < n {
		x = x*1664525 + 1013904223
		b.WriteByte(byte(x >> 24))
	}
	return b.Bytes()
}
