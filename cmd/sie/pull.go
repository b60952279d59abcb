package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sie-project/sie"
)

// stderr receives progress; a variable so tests can capture it.
var stderr io.Writer = os.Stderr

// runPull implements "sie pull MODEL[@REV]": download a catalog or hub
// model into the Hugging Face cache and print its snapshot folder.
func runPull(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: sie pull MODEL[@REV]")
	}
	model := fs.Arg(0)
	p := newProgress(stderr)
	dir, err := sie.Pull(ctx, model, sie.Options{Hub: sie.HubOptions{Progress: p.update}})
	p.finish()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, dir)
	return err
}

// progress draws download progress: a redrawn bar on a terminal, plain
// lines (one when a file starts, one when it ends) otherwise.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	last map[string]int64 // file -> bytes shown
	line bool             // a bar is on screen
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, tty: tty, last: map[string]int64{}}
}

func (p *progress) update(d sie.DownloadProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, seen := p.last[d.File]
	p.last[d.File] = d.Done
	if !p.tty {
		switch {
		case !seen:
			fmt.Fprintf(p.w, "downloading %s %s (%s)\n", d.Model, d.File, size(d.Total))
		case d.Done == d.Total && prev != d.Total:
			fmt.Fprintf(p.w, "done %s %s\n", d.Model, d.File)
		}
		return
	}
	const width = 30
	frac := 1.0
	if d.Total > 0 {
		frac = float64(d.Done) / float64(d.Total)
	}
	n := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < n {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%-40.40s [%s] %3.0f%% %s/%s", d.File, bar, frac*100, size(d.Done), size(d.Total))
	p.line = true
	if d.Done == d.Total {
		fmt.Fprintln(p.w)
		p.line = false
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line {
		fmt.Fprintln(p.w)
		p.line = false
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
