package server

// GET /metrics in the Prometheus text exposition format (version 0.0.4),
// written directly so that the library needs no metrics dependency:
//
//	sie_http_requests_total{route,code}      requests answered
//	sie_http_errors_total{route,code}        of which 4xx and 5xx
//	sie_http_request_duration_seconds{route} latency histogram
//	sie_http_requests_in_flight              requests in progress
//	sie_models_loaded                        models loaded in the engine
//	sie_memory_used_bytes, sie_memory_budget_bytes
//	sie_model_queue_depth{model}             requests waiting
//	sie_model_requests_total{model}, sie_model_overloaded_total{model}
//	sie_model_batches_total{model}, sie_model_batch_sequences_total{model}
//	sie_model_batch_rows_total{model}        (mean batch size = sequences / batches)
//	sie_model_tokens_total{model}, sie_model_padded_tokens_total{model}
//	sie_model_padding_ratio{model}, sie_model_compiles_total{model}

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

type routeKey struct {
	route string
	code  int
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

type metrics struct {
	mu       sync.Mutex
	requests map[routeKey]uint64
	latency  map[string]*histogram
	inFlight atomic.Int64
}

func newMetrics() *metrics {
	return &metrics{requests: map[routeKey]uint64{}, latency: map[string]*histogram{}}
}

func (m *metrics) observe(route string, code int, d time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[routeKey{route, code}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[route] = h
	}
	sec := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, sec)
	h.counts[i]++
	h.sum += sec
	h.n++
}

func (s *Server) docsMetrics() {
	s.handle("GET /metrics", apiSIE, true, s.metricsHandler)
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	var b strings.Builder
	s.m.write(&b)
	st := s.b.Stats()
	family(&b, "sie_models_loaded", "gauge", "Models loaded in the engine.")
	fmt.Fprintf(&b, "sie_models_loaded %d\n", len(st.Models))
	family(&b, "sie_memory_used_bytes", "gauge", "Bytes accounted to loaded models.")
	fmt.Fprintf(&b, "sie_memory_used_bytes %d\n", st.MemoryUsed)
	family(&b, "sie_memory_budget_bytes", "gauge", "The engine's memory budget in bytes (0: unlimited).")
	fmt.Fprintf(&b, "sie_memory_budget_bytes %d\n", st.MemoryBudget)
	names := make([]string, 0, len(st.Models))
	for n := range st.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	perModel := []struct {
		name, typ, help string
		v               func(i int) string
	}{
		{"sie_model_queue_depth", "gauge", "Requests waiting in the model's queue.", func(i int) string { return strconv.Itoa(st.Models[names[i]].QueueDepth) }},
		{"sie_model_in_flight", "gauge", "Calls using the model now.", func(i int) string { return strconv.Itoa(st.Models[names[i]].InFlight) }},
		{"sie_model_requests_total", "counter", "Calls the model answered.", func(i int) string { return i64(st.Models[names[i]].Requests) }},
		{"sie_model_overloaded_total", "counter", "Calls refused because the queue was full.", func(i int) string { return i64(st.Models[names[i]].Overloaded) }},
		{"sie_model_batches_total", "counter", "Device batches run.", func(i int) string { return i64(st.Models[names[i]].Batches) }},
		{"sie_model_batch_sequences_total", "counter", "Sequences in device batches (divide by batches for the mean batch size).", func(i int) string { return i64(st.Models[names[i]].Sequences) }},
		{"sie_model_batch_rows_total", "counter", "Device rows, padding rows included.", func(i int) string { return i64(st.Models[names[i]].Rows) }},
		{"sie_model_tokens_total", "counter", "Real tokens computed.", func(i int) string { return i64(st.Models[names[i]].Tokens) }},
		{"sie_model_padded_tokens_total", "counter", "Token positions computed, padding included.", func(i int) string { return i64(st.Models[names[i]].PaddedTokens) }},
		{"sie_model_padding_ratio", "gauge", "1 - tokens / padded tokens.", func(i int) string {
			return strconv.FormatFloat(st.Models[names[i]].PaddingFraction, 'g', -1, 64)
		}},
		{"sie_model_compiles_total", "counter", "Programs compiled.", func(i int) string { return i64(st.Models[names[i]].Compiles) }},
	}
	for _, f := range perModel {
		family(&b, f.name, f.typ, f.help)
		for i, n := range names {
			fmt.Fprintf(&b, "%s{model=%s} %s\n", f.name, quote(n), f.v(i))
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err := w.Write([]byte(b.String()))
	return err
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func family(b *strings.Builder, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// quote writes a label value with the text format's escapes.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func (m *metrics) write(b *strings.Builder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]routeKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].code < keys[j].code
	})
	family(b, "sie_http_requests_total", "counter", "HTTP requests answered, by route and status code.")
	for _, k := range keys {
		fmt.Fprintf(b, "sie_http_requests_total{route=%s,code=\"%d\"} %d\n", quote(k.route), k.code, m.requests[k])
	}
	family(b, "sie_http_errors_total", "counter", "HTTP requests answered with a 4xx or 5xx status.")
	for _, k := range keys {
		if k.code >= 400 {
			fmt.Fprintf(b, "sie_http_errors_total{route=%s,code=\"%d\"} %d\n", quote(k.route), k.code, m.requests[k])
		}
	}
	family(b, "sie_http_requests_in_flight", "gauge", "HTTP requests in progress.")
	fmt.Fprintf(b, "sie_http_requests_in_flight %d\n", m.inFlight.Load())
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	family(b, "sie_http_request_duration_seconds", "histogram", "HTTP request latency in seconds, by route.")
	for _, r := range routes {
		h := m.latency[r]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(b, "sie_http_request_duration_seconds_bucket{route=%s,le=\"%s\"} %d\n", quote(r), strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(b, "sie_http_request_duration_seconds_bucket{route=%s,le=\"+Inf\"} %d\n", quote(r), h.n)
		fmt.Fprintf(b, "sie_http_request_duration_seconds_sum{route=%s} %s\n", quote(r), strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(b, "sie_http_request_duration_seconds_count{route=%s} %d\n", quote(r), h.n)
	}
}
