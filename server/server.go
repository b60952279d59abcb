// Package server serves a sie Engine over HTTP in the dialects of the
// embedding APIs people migrate from: OpenAI (/v1/embeddings, /v1/models),
// Cohere (/v2/embed, /v2/rerank, /v1/embed, /v1/rerank), Hugging Face TEI
// (/embed, /embed_sparse, /embed_all, /rerank, /tokenize, /info, /health)
// and Infinity (/embeddings, /rerank, /models), plus sie's own routes
// (/v1/encode/{model}, /v1/score/{model}, /healthz, /readyz, /metrics) and
// an OpenAPI description (/openapi.json, /docs).
//
// New returns an http.Handler that can be mounted in a caller's own mux.
// NewTransport serves the same routes to an http.Client without a socket,
// so that a provider's Go SDK (openai-go, cohere-go) runs against an
// in-process Engine unchanged. Client is the Go client for a shared `sie
// serve`; it satisfies sie.Service like *sie.Engine.
//
// # Prompts
//
// The OpenAI-, TEI- and Infinity-compatible routes embed texts exactly as
// sent (sie.NoPrompt) unless the request names a prompt (prompt_name),
// because those providers apply none and their users typed any prefix by
// hand. On the Cohere routes input_type chooses: search_query the model's
// query prompt, search_document its document prompt, classification and
// clustering the prompt of that name when the model has one; absent (or "")
// means none. sie's own routes apply the query and document templates as
// the Go API does.
//
// # Model names
//
// A request names its model by catalog id, by an alias configured in
// Options.Aliases, or by one of Options.Models exactly as configured (which
// may be a local folder). Any other name is refused with 404 before it can
// reach the file system, so "../../etc" or "/tmp/x" never load anything. On
// TEI routes, which have no model field upstream, a request may name its
// model in a "model" field or the X-SIE-Model header; without one the default
// model serves it.
//
// # Errors
//
// Every route answers errors in its API's own envelope: OpenAI and Infinity
// {"error": {"message", "type", "param", "code"}}, Cohere {"id",
// "message"}, TEI {"error", "error_type"}, sie {"error": {"message",
// "code"}}. Caller mistakes are 4xx (400, or 422 on TEI as TEI does), an
// unknown model 404, a full queue or too many concurrent requests 429 with
// Retry-After, a model still loading 503 with Retry-After; never 500 for
// bad input.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/catalog"
)

// Backend is what the routes need from an engine: sie.Service plus the
// facts the compatible APIs report. *sie.Engine satisfies it; so can a
// client of a remote cluster.
type Backend interface {
	sie.Service
	// Info describes a model (dimension, maximum length, outputs).
	Info(ctx context.Context, model string) (sie.ModelInfo, error)
	// Tokenize returns each text's tokens, prompts applied, untruncated.
	Tokenize(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]sie.Token, error)
	// EmbedIDs embeds inputs given as token ids of the model's vocabulary.
	EmbedIDs(ctx context.Context, model string, inputs [][]int) ([][]float32, error)
	// Load loads a model ahead of its first request.
	Load(ctx context.Context, model string) error
	// Stats reports queues, batches and memory for /metrics.
	Stats() sie.Stats
}

var _ Backend = (*sie.Engine)(nil)

// Options configures a server. The zero value serves the catalog with the
// defaults below.
type Options struct {
	// Models are loaded at start and served under these names exactly
	// (catalog ids or local folders). Until they have loaded, /readyz
	// answers 503 and requests for them 503 with Retry-After.
	Models []string
	// Aliases serve a model (catalog id or local folder) under another
	// name; alias targets are loaded at start like Models.
	Aliases map[string]string
	// DefaultModel serves requests that name no model (TEI routes, and
	// OpenAI/Infinity requests with an empty model); "" means the first of
	// Models, else the alphabetically first alias.
	DefaultModel string

	// APIKey, when set, is required as "Authorization: Bearer <key>" on
	// every route except /healthz, /readyz, /health and /metrics; it is
	// compared in constant time.
	APIKey string

	// MaxBodyBytes caps a request body; zero means 2,000,000 (TEI's
	// payload limit). Larger bodies get 413.
	MaxBodyBytes int64
	// MaxInputs caps the texts (or documents) of one request; zero means
	// 2048 (OpenAI's and Infinity's limit).
	MaxInputs int
	// MaxInputChars caps the characters of one text; zero means 122,880
	// (Infinity's 8192 × 15).
	MaxInputChars int
	// MaxConcurrent caps requests in progress; zero means 512 (TEI's
	// default). Beyond it requests get 429 with Retry-After.
	MaxConcurrent int

	// Logger receives one access log line per request and load events;
	// nil means none.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 2_000_000
	}
	if o.MaxInputs <= 0 {
		o.MaxInputs = 2048
	}
	if o.MaxInputChars <= 0 {
		o.MaxInputChars = 8192 * 15
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 512
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Server is the http.Handler over a Backend. It is safe for concurrent use.
type Server struct {
	b    Backend
	opts Options
	mux  *http.ServeMux
	sem  chan struct{}
	// patterns lists the registered routes, for OpenAPI.
	patterns []string
	m        *metrics

	defaultModel string
	configured   map[string]string // served name → backend name
	aliasNames   []string          // sorted

	mu      sync.Mutex
	loading map[string]bool // backend names still loading
	loadErr error
	ready   chan struct{}
	started time.Time
}

// New returns a server over b and starts loading the configured models in
// the background; see Ready.
func New(b Backend, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		b: b, opts: opts, mux: http.NewServeMux(), sem: make(chan struct{}, opts.MaxConcurrent),
		m: newMetrics(), configured: map[string]string{}, loading: map[string]bool{},
		ready: make(chan struct{}), started: time.Now(),
	}
	for _, name := range opts.Models {
		s.configured[name] = name
	}
	aliases := make([]string, 0, len(opts.Aliases))
	for alias, target := range opts.Aliases {
		s.configured[alias] = target
		aliases = append(aliases, alias)
	}
	sort.Strings(aliases)
	s.aliasNames = aliases
	s.defaultModel = opts.DefaultModel
	if s.defaultModel == "" {
		if len(opts.Models) > 0 {
			s.defaultModel = opts.Models[0]
		} else if len(aliases) > 0 {
			s.defaultModel = aliases[0]
		}
	}
	s.routes()
	var targets []string
	for _, t := range s.configured {
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
			s.loading[t] = true
		}
	}
	sort.Strings(targets)
	go s.preload(targets)
	return s
}

// preload loads every configured model and runs one tiny request on it, so
// that the first caller does not wait for loading or the first compile.
func (s *Server) preload(targets []string) {
	defer close(s.ready)
	ctx := context.Background()
	for _, t := range targets {
		start := time.Now()
		err := s.b.Load(ctx, t)
		if err == nil {
			err = s.warmUp(ctx, t)
		}
		s.mu.Lock()
		delete(s.loading, t)
		if err != nil && s.loadErr == nil {
			s.loadErr = err
		}
		s.mu.Unlock()
		if err != nil {
			s.opts.Logger.Error("sie serve: model failed to load", "model", t, "err", err)
			continue
		}
		s.opts.Logger.Info("sie serve: model ready", "model", t, "took", time.Since(start))
	}
}

func (s *Server) warmUp(ctx context.Context, model string) error {
	info, err := s.b.Info(ctx, model)
	if err != nil {
		return err
	}
	switch {
	case info.CrossEncoder:
		_, err = s.b.Rerank(ctx, model, "warm up", []string{"warm up"}, sie.NoPrompt())
	case info.Outputs&sie.Dense != 0:
		_, err = s.b.Embed(ctx, model, []string{"warm up"}, sie.NoPrompt())
	}
	return err
}

// Ready returns a channel closed when the configured models have been
// loaded (or failed to), and the first load error, if any, once closed.
func (s *Server) Ready() (<-chan struct{}, func() error) {
	return s.ready, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.loadErr
	}
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Clients that join a base URL ending in "/" with "/v2/embed" send
	// "//v2/embed"; serve it instead of redirecting.
	if r.URL.RawPath == "" && strings.Contains(r.URL.Path, "//") {
		r2 := *r
		u := *r.URL
		for strings.Contains(u.Path, "//") {
			u.Path = strings.ReplaceAll(u.Path, "//", "/")
		}
		r2.URL = &u
		r = &r2
	}
	s.mux.ServeHTTP(w, r)
}

// api is one of the dialects, which fixes the error envelope and statuses.
type api int

const (
	apiOpenAI api = iota
	apiCohere
	apiTEI
	apiInfinity
	apiSIE
)

// errKind classifies an error independently of the dialect.
type errKind int

const (
	kindInvalid      errKind = iota // caller mistake in the request
	kindEmpty                       // empty input list or empty text
	kindTooLarge                    // body over MaxBodyBytes
	kindNotFound                    // unknown model or route
	kindUnauthorized                // missing or wrong API key
	kindWrongModel                  // the model cannot do what the route asks
	kindOverloaded                  // queue full or too many requests: retry
	kindUnavailable                 // loading or out of memory: retry later
	kindCanceled                    // the client went away
	kindInternal                    // a failure that is not the caller's
)

// apiError is an error with its kind; the dialect writes it.
type apiError struct {
	kind  errKind
	msg   string
	param string
	code  string // sie's error code: which sentinel the error matches
}

func (e *apiError) Error() string { return e.msg }

func invalid(param, format string, args ...any) *apiError {
	return &apiError{kind: kindInvalid, param: param, msg: fmt.Sprintf(format, args...), code: codeInvalidInput}
}

func empty(param, format string, args ...any) *apiError {
	return &apiError{kind: kindEmpty, param: param, msg: fmt.Sprintf(format, args...), code: codeInvalidInput}
}

// sie's error codes, one per sentinel; Client maps them back.
const (
	codeInvalidInput      = "invalid_input"
	codeModelNotFound     = "model_not_found"
	codeUnsupported       = "unsupported_architecture"
	codeInvalidModel      = "invalid_model"
	codeOverloaded        = "overloaded"
	codeResourceExhausted = "resource_exhausted"
	codeClosed            = "closed"
	codeBackend           = "backend_failure"
	codeUnauthorized      = "unauthorized"
	codeLoading           = "model_loading"
	codeCanceled          = "canceled"
	codeInternal          = "internal"
	codeNotFound          = "not_found" // no such route
)

var sentinelCodes = []struct {
	err  error
	code string
	kind errKind
}{
	{sie.ErrInvalidInput, codeInvalidInput, kindInvalid},
	{sie.ErrModelNotFound, codeModelNotFound, kindNotFound},
	{sie.ErrUnsupportedArchitecture, codeUnsupported, kindInternal},
	{sie.ErrInvalidModel, codeInvalidModel, kindInternal},
	{sie.ErrOverloaded, codeOverloaded, kindOverloaded},
	{sie.ErrResourceExhausted, codeResourceExhausted, kindUnavailable},
	{sie.ErrClosed, codeClosed, kindUnavailable},
	{sie.ErrBackend, codeBackend, kindInternal},
}

// classify turns any error from a handler or the backend into an apiError.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &apiError{kind: kindCanceled, msg: "the request was cancelled", code: codeCanceled}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{kind: kindUnavailable, msg: "the request timed out", code: codeCanceled}
	}
	for _, sc := range sentinelCodes {
		if errors.Is(err, sc.err) {
			return &apiError{kind: sc.kind, msg: err.Error(), code: sc.code}
		}
	}
	return &apiError{kind: kindInternal, msg: err.Error(), code: codeInternal}
}

// status is the HTTP status of an error kind in a dialect.
func status(a api, k errKind) int {
	switch k {
	case kindInvalid:
		if a == apiTEI {
			return http.StatusUnprocessableEntity
		}
		return http.StatusBadRequest
	case kindEmpty:
		return http.StatusBadRequest
	case kindTooLarge:
		return http.StatusRequestEntityTooLarge
	case kindNotFound:
		return http.StatusNotFound
	case kindUnauthorized:
		return http.StatusUnauthorized
	case kindWrongModel:
		if a == apiTEI {
			return http.StatusFailedDependency // TEI: "model is not a re-ranker model"
		}
		return http.StatusBadRequest
	case kindOverloaded:
		return http.StatusTooManyRequests
	case kindUnavailable:
		return http.StatusServiceUnavailable
	case kindCanceled:
		return 499 // nginx's "client closed request"; nobody reads it
	}
	return http.StatusInternalServerError
}

// writeError answers err in a's envelope.
func (s *Server) writeError(w http.ResponseWriter, a api, err error) int {
	var de *dialectErr
	if errors.As(err, &de) {
		a = de.api
	}
	e := classify(err)
	e = &apiError{kind: e.kind, msg: s.hidePaths(e.msg), param: e.param, code: e.code}
	code := status(a, e.kind)
	if e.kind == kindOverloaded || e.kind == kindUnavailable {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Retry-After-Ms", "1000")
	}
	if e.kind == kindInternal {
		// Deterministic failures: a retry would fail the same way.
		w.Header().Set("X-Should-Retry", "false")
	}
	var body any
	switch a {
	case apiOpenAI, apiInfinity:
		typ := "invalid_request_error"
		oc := any(nil)
		switch e.kind {
		case kindNotFound:
			oc = "model_not_found"
		case kindUnauthorized:
			typ, oc = "authentication_error", "invalid_api_key"
		case kindOverloaded:
			typ, oc = "rate_limit_error", "rate_limit_exceeded"
		case kindUnavailable:
			typ = "service_unavailable_error"
		case kindInternal:
			typ = "server_error"
		case kindTooLarge:
			oc = "request_too_large"
		}
		var param any
		if e.param != "" {
			param = e.param
		}
		body = map[string]any{"error": map[string]any{"message": e.msg, "type": typ, "param": param, "code": oc}}
	case apiCohere:
		body = map[string]any{"id": requestID(), "message": e.msg}
	case apiTEI:
		typ := "Validation"
		switch e.kind {
		case kindEmpty:
			typ = "Empty"
		case kindOverloaded:
			typ = "Overloaded"
		case kindUnavailable:
			typ = "Unhealthy"
		case kindWrongModel, kindInternal:
			typ = "Backend"
		case kindNotFound:
			typ = "NotFound"
		case kindUnauthorized:
			typ = "Unauthorized"
		case kindCanceled:
			typ = "Canceled"
		}
		body = map[string]any{"error": e.msg, "error_type": typ}
	default:
		body = map[string]any{"error": map[string]any{"message": e.msg, "code": e.code}}
	}
	writeJSON(w, code, body)
	return code
}

// hidePaths replaces the folders behind aliases with the aliases in a
// message, so that errors do not reveal the server's file system.
func (s *Server) hidePaths(msg string) string {
	for _, alias := range s.aliasNames {
		if target := s.opts.Aliases[alias]; target != alias && strings.ContainsAny(target, `/\`) {
			msg = strings.ReplaceAll(msg, target, alias)
		}
	}
	return msg
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		data = []byte(`{"error":{"message":"cannot encode the response","code":"internal"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// handlerFunc is a route's handler: it writes a success itself and returns
// an error for the wrapper to write in the route's envelope.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// statusWriter remembers the status for metrics and access logs.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// handle registers a route: authentication, the concurrency limit, panic
// recovery, metrics and the access log around h.
func (s *Server) handle(pattern string, a api, open bool, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	route := pattern
	if i := strings.IndexByte(route, ' '); i >= 0 {
		route = route[i+1:]
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.opts.Logger.Error("sie serve: panic", "route", route, "panic", p)
				if sw.code == 0 {
					s.writeError(sw, a, &apiError{kind: kindInternal, msg: "internal error", code: codeInternal})
				}
			}
			d := time.Since(start)
			s.m.observe(route, sw.code, d)
			s.opts.Logger.Info("sie serve: request", "method", r.Method, "path", r.URL.Path, "route", route,
				"status", sw.code, "duration", d, "remote", r.RemoteAddr)
		}()
		if !open && !s.authorized(r) {
			s.writeError(sw, a, &apiError{kind: kindUnauthorized, msg: "missing or incorrect API key: send Authorization: Bearer <key>", code: codeUnauthorized})
			return
		}
		if !open {
			select {
			case s.sem <- struct{}{}:
				defer func() { <-s.sem }()
			default:
				s.writeError(sw, a, &apiError{kind: kindOverloaded, msg: fmt.Sprintf("too many concurrent requests (limit %d); retry later", s.opts.MaxConcurrent), code: codeOverloaded})
				return
			}
		}
		s.m.inFlight.Add(1)
		defer s.m.inFlight.Add(-1)
		if err := h(sw, r); err != nil {
			s.writeError(sw, a, err)
		}
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opts.APIKey)) == 1
}

// decode reads r's JSON body into v within the size limit.
func (s *Server) decode(r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &apiError{kind: kindTooLarge, msg: fmt.Sprintf("the request body is over the %d-byte limit", s.opts.MaxBodyBytes), code: codeInvalidInput}
		}
		return &apiError{kind: kindCanceled, msg: "cannot read the request body: " + err.Error(), code: codeCanceled}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return invalid("", "the request body is empty; send a JSON object")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				return invalid("", "the request body must be a JSON object, not %s", te.Value)
			}
			return invalid(field, "field %q: %s is not allowed here (want %s)", field, te.Value, jsonKind(te.Type.String()))
		}
		var fe *fieldError
		if errors.As(err, &fe) {
			return invalid(fe.field, "%s", fe.msg)
		}
		return invalid("", "malformed JSON: %v", err)
	}
	return nil
}

// fieldError is returned by custom unmarshalers for polymorphic fields.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.msg }

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "a boolean"
	}
	return "an object"
}

// hubID is the shape of a Hugging Face repository id.
var hubID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*(:[A-Za-z0-9_.-]+)?$`)

// model maps the name a request gives to the backend's name. Only
// configured names, aliases and catalog ids pass; nothing else reaches the
// file system.
func (s *Server) model(name string) (string, error) {
	if name == "" {
		if s.defaultModel == "" {
			return "", &apiError{kind: kindNotFound, param: "model", code: codeModelNotFound,
				msg: "the request names no model and the server has no default model; name one (GET /v1/models lists the served models)"}
		}
		name = s.defaultModel
	}
	target, ok := s.configured[name]
	if !ok {
		base, _, _ := strings.Cut(name, ":")
		_, inCatalog := catalog.Find(base)
		if !inCatalog || !hubID.MatchString(name) || strings.Contains(name, "..") || isLocalPath(name) {
			return "", &apiError{kind: kindNotFound, param: "model", code: codeModelNotFound,
				msg: fmt.Sprintf("the model %q does not exist here: GET /v1/models lists the served models; catalog ids and aliases configured with sie serve --alias are accepted, file paths are not", name)}
		}
		target = name
	}
	s.mu.Lock()
	loading := s.loading[target]
	s.mu.Unlock()
	if loading {
		return "", &apiError{kind: kindUnavailable, code: codeLoading, msg: fmt.Sprintf("the model %q is loading; retry shortly", name)}
	}
	return target, nil
}

func isLocalPath(name string) bool {
	if filepath.IsAbs(name) {
		return true
	}
	_, err := os.Stat(name)
	return err == nil
}

// served lists the names requests may use, sorted.
func (s *Server) served() []string {
	names := make([]string, 0, len(s.configured))
	for n := range s.configured {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkTexts applies the limits on inputs per request and characters per
// input, and refuses empty texts.
func (s *Server) checkTexts(param string, texts []string, allowEmptyText bool) error {
	if len(texts) == 0 {
		return empty(param, "%q must not be empty: send at least one input", param)
	}
	if len(texts) > s.opts.MaxInputs {
		return invalid(param, "%q has %d inputs; at most %d are allowed per request", param, len(texts), s.opts.MaxInputs)
	}
	for i, t := range texts {
		if t == "" && !allowEmptyText {
			return empty(param, "%s[%d] is an empty string; every input must have text", param, i)
		}
		if n := len([]rune(t)); n > s.opts.MaxInputChars {
			return invalid(param, "%s[%d] has %d characters; at most %d are allowed", param, i, n, s.opts.MaxInputChars)
		}
	}
	return nil
}

func requestID() string {
	return fmt.Sprintf("sie-%x", time.Now().UnixNano())
}

// routes registers every route.
func (s *Server) routes() {
	s.openaiRoutes()
	s.cohereRoutes()
	s.teiRoutes()
	s.infinityRoutes()
	s.sieRoutes()
	s.docsRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.WriteHeader(http.StatusOK) // TEI answers GET / like /health
			return
		}
		s.writeError(w, apiSIE, &apiError{kind: kindNotFound, code: codeNotFound,
			msg: fmt.Sprintf("no route %s %s; GET /openapi.json lists the routes", r.Method, r.URL.Path)})
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
