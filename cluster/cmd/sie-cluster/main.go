// Command sie-cluster runs sie as a cluster on NATS JetStream.
//
//	sie-cluster worker  --nats URL --pool P [--preload M]... [flags]
//	sie-cluster gateway --nats URL [--addr 127.0.0.1:8080] [--model M]... [flags]
//
// A worker takes work items of its lane (pool, profile, bundle) into a local
// sie Engine and answers them; a gateway is the HTTP server of `sie serve`
// (OpenAI, Cohere, TEI, Infinity and sie routes) whose calls go to the
// workers instead of a local Engine. Both stop on SIGINT or SIGTERM: the
// worker finishes or hands back the items it holds, the gateway drains its
// requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage:
  sie-cluster worker  --nats URL --pool P [--preload M]... [flags]   take work from a lane into a local Engine
  sie-cluster gateway --nats URL [--addr A] [--model M]... [flags]   serve the HTTP routes of sie serve on the cluster
run "sie-cluster worker -h" or "sie-cluster gateway -h" for flags
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sie-cluster:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "worker":
		return runWorker(ctx, args[1:], stdout, stderr)
	case "gateway":
		return runGateway(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// defaultNATS is $NATS_URL, else the local default.
func defaultNATS() string {
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}
