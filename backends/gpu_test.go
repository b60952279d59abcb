package backends

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseGPUMemory(t *testing.T) {
	total, free, err := parseGPUMemory("81559, 80723\n")
	if err != nil || total != 81559<<20 || free != 80723<<20 {
		t.Errorf("parseGPUMemory = %d, %d, %v", total, free, err)
	}
	for _, bad := range []string{"", "N/A, N/A", "81559", "0, 0", "[Not Supported], 1"} {
		if _, _, err := parseGPUMemory(bad); !errors.Is(err, ErrUnavailable) {
			t.Errorf("parseGPUMemory(%q): %v, want ErrUnavailable", bad, err)
		}
	}
}

// fakeNvidiaSMI puts an nvidia-smi shell script on PATH, alone; $DIR in the
// script is its folder.
func fakeNvidiaSMI(t *testing.T, script string) string {
	dir := t.TempDir()
	script = strings.ReplaceAll(script, "$DIR", dir)
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	return dir
}

func TestGPUMemory(t *testing.T) {
	dir := fakeNvidiaSMI(t, `echo "$@" > "$DIR/args"; echo "40960, 30000"`+"\n")
	t.Setenv("CUDA_VISIBLE_DEVICES", "3,1")
	total, free, err := GPUMemory(context.Background())
	if err != nil || total != 40960<<20 || free != 30000<<20 {
		t.Fatalf("GPUMemory = %d, %d, %v", total, free, err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if want := "--query-gpu=memory.total,memory.free --format=csv,noheader,nounits -i 3\n"; string(args) != want {
		t.Errorf("nvidia-smi called with %q, want %q", args, want)
	}
}

func TestGPUMemoryUnavailable(t *testing.T) {
	fakeNvidiaSMI(t, "echo 'NVIDIA-SMI has failed' >&2; exit 9\n")
	if _, _, err := GPUMemory(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("failing nvidia-smi: %v, want ErrUnavailable", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, _, err := GPUMemory(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no nvidia-smi: %v, want ErrUnavailable", err)
	}
}
