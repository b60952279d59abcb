// Command serve-embedded mounts sie's compatible HTTP API inside a service's
// own mux, next to its own routes: OpenAI, Cohere, TEI and Infinity clients
// reach the Engine under /ml/, and the service's handlers call the same
// Engine directly.
//
//	go run ./serve-embedded [-addr 127.0.0.1:8080] [-model sentence-transformers/all-MiniLM-L6-v2]
//	curl localhost:8080/ml/v1/embeddings -d '{"model": "minilm", "input": ["hello"]}'
//	curl 'localhost:8080/similar?a=cats&b=dogs'
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/server"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	model := flag.String("model", "sentence-transformers/all-MiniLM-L6-v2", "catalog id or checkpoint directory")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *model); err != nil {
		fmt.Fprintln(os.Stderr, "serve-embedded:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, model string) error {
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	srv := &http.Server{Addr: addr, Handler: newMux(eng, model)}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newMux is the service's own mux: its routes, plus sie's API under /ml/.
func newMux(eng *sie.Engine, model string) *http.ServeMux {
	api := server.New(eng, server.Options{
		Aliases: map[string]string{"minilm": model}, // HTTP clients name models by alias
		Logger:  slog.Default(),
	})
	mux := http.NewServeMux()
	mux.Handle("/ml/", http.StripPrefix("/ml", api))

	// The service's own handler uses the same Engine in process.
	mux.HandleFunc("GET /similar", func(w http.ResponseWriter, r *http.Request) {
		a, b := r.URL.Query().Get("a"), r.URL.Query().Get("b")
		vecs, err := eng.Embed(r.Context(), model, []string{a, b})
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, sie.ErrInvalidInput) {
				status = http.StatusBadRequest
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]float64{"cosine": cosine(vecs[0], vecs[1])})
	})
	return mux
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}
