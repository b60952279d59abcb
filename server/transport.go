package server

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// NewTransport returns an http.RoundTripper that serves requests with h in
// the calling goroutine, without a socket: give it to a provider's SDK to
// run it against an in-process Engine.
//
//	t := server.NewTransport(server.New(eng, server.Options{}))
//	client := openai.NewClient(option.WithBaseURL("http://sie.local/v1/"),
//		option.WithHTTPClient(&http.Client{Transport: t}))
//
// Only the request's path and query matter; any host works. The body is
// read through GetBody when the request has one, so an SDK that retries by
// re-sending the same *http.Request (cohere-go does) sends the whole body
// again. req.URL is never modified (openai-go checks that the origin did
// not change). The request's context cancels the work.
func NewTransport(h http.Handler) http.RoundTripper { return &transport{h: h} }

type transport struct{ h http.Handler }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	switch {
	case req.GetBody != nil:
		rc, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		body, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		if req.Body != nil {
			req.Body.Close()
		}
	case req.Body != nil:
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	in := req.Clone(req.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.GetBody = nil
	in.RequestURI = in.URL.RequestURI()
	if in.RemoteAddr == "" {
		in.RemoteAddr = "in-process"
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, in)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	resp := &http.Response{
		Status:        strconv.Itoa(rec.code) + " " + http.StatusText(rec.code),
		StatusCode:    rec.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}
	return resp, nil
}

// recorder is the ResponseWriter of the in-process transport.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
