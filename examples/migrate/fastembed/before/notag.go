//go:build !fastembed

// Command before needs fastembed-go, which needs cgo and ONNX Runtime:
// build it with -tags fastembed (see main.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "before: build with -tags fastembed (needs cgo and the ONNX Runtime library)")
	os.Exit(2)
}
