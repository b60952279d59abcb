package backends

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The CPU-side paths of scripts/gpu-check.sh: what it says and returns
// without a GPU, without a plugin, without a bundle, and how it wires a run
// (environment, fixtures, benchmarks) when a fake GPU, plugin and bundle
// stand in for the real ones.

type gpuCheck struct {
	t                *testing.T
	bin, site, cache string
	env              []string
}

func newGPUCheck(t *testing.T) *gpuCheck {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	g := &gpuCheck{t: t, bin: t.TempDir(), site: filepath.Join(t.TempDir(), "site-packages"), cache: t.TempDir()}
	g.env = append(os.Environ(), "PATH="+g.bin+":/usr/bin:/bin", "SIE_XLA_PLUGIN=", "GPU_CHECK_CACHE="+g.cache)
	return g
}

func (g *gpuCheck) script(path, body string) {
	g.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gpuCheck) fakeGPU() {
	g.script(filepath.Join(g.bin, "nvidia-smi"), "echo 'NVIDIA H100 80GB HBM3, 81559 MiB'\n")
}

func (g *gpuCheck) fakePlugin() string {
	p := filepath.Join(g.site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	g.script(p, "")
	if err := os.MkdirAll(filepath.Join(g.site, "nvidia", "cu13", "lib"), 0o755); err != nil {
		g.t.Fatal(err)
	}
	g.env = append(g.env, "SIE_XLA_PLUGIN="+p)
	return p
}

func (g *gpuCheck) run(args ...string) (code int, stdout, stderr string) {
	g.t.Helper()
	cmd := exec.Command("bash", append([]string{"../scripts/gpu-check.sh"}, args...)...)
	cmd.Env = g.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		g.t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func (g *gpuCheck) want(wantCode int, wantMsg string, args ...string) {
	g.t.Helper()
	code, _, stderr := g.run(args...)
	if code != wantCode || !strings.Contains(stderr, wantMsg) {
		g.t.Errorf("gpu-check.sh %v: exit %d, stderr %q; want exit %d and %q", args, code, stderr, wantCode, wantMsg)
	}
}

func TestGPUCheckErrors(t *testing.T) {
	g := newGPUCheck(t)
	if _, err := exec.LookPath("nvidia-smi"); err == nil {
		t.Skip("this machine has nvidia-smi")
	}
	g.want(64, "usage", "frobnicate")
	g.want(2, "no NVIDIA GPU here", "run")
	g.fakeGPU()
	g.want(3, "PJRT CUDA plugin not found", "run")
	g.env = append(g.env, "SIE_XLA_PLUGIN=/nonexistent/xla_cuda_plugin.so")
	g.want(3, "SIE_XLA_PLUGIN=/nonexistent/xla_cuda_plugin.so: no such file", "run")
	g.fakePlugin()
	g.want(4, "no bundle in", "run", t.TempDir())
}

func TestGPUCheckRun(t *testing.T) {
	g := newGPUCheck(t)
	g.fakeGPU()
	plugin := g.fakePlugin()
	bundle := t.TempDir()
	seen := filepath.Join(bundle, "seen")
	// The test binary stand-in records what the script set up for it.
	g.script(filepath.Join(bundle, "sie.test"), `{
  echo "backend=$SIE_BACKEND"; echo "plugin=$SIE_XLA_PLUGIN"; echo "xla_flags=$XLA_FLAGS"
  echo "args=$*"; test -f github.com/sie-project/sie/testdata/fixtures/bert-mean/golden.json && echo fixtures=ok
} > `+seen+`
echo "--- PASS: TestFixtureEmbeddings"; exit ${FAIL_TESTS:-0}
`)
	g.script(filepath.Join(bundle, "siebench"), `case "$*" in *--emit-workloads*) exit 0;; esac
echo "{\"runtime\":\"sie\",\"args\":\"$*\"}"
`)
	if err := os.MkdirAll(filepath.Join(g.cache, "bge-base-random"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.cache, "bge-base-random", "model.safetensors"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := g.run("run", bundle)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got, _ := os.ReadFile(seen)
	for _, want := range []string{"backend=xla:cuda", "plugin=" + plugin,
		"--xla_gpu_cuda_data_dir=" + filepath.Join(g.site, "nvidia", "cu13"), "fixtures=ok", "Precision"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("test binary saw\n%s\nwant %q", got, want)
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 {
		t.Fatalf("want 6 JSON lines (float32 and bfloat16 × workloads f, c, d), got %d:\n%s", len(lines), stdout)
	}
	for i, w := range []string{"f", "c", "d", "f", "c", "d"} {
		p := map[bool]string{true: "float32", false: "bfloat16"}[i < 3]
		if !strings.Contains(lines[i], "--workload "+w) || !strings.Contains(lines[i], "--precision "+p) ||
			!strings.Contains(lines[i], "--backend xla:cuda") {
			t.Errorf("line %d: %s; want workload %s, precision %s on xla:cuda", i, lines[i], w, p)
		}
	}
	g.env = append(g.env, "FAIL_TESTS=1")
	if code, _, stderr := g.run("run", bundle); code != 1 || !strings.Contains(stderr, "tests failed") {
		t.Errorf("failing tests: exit %d, stderr %q; want exit 1", code, stderr)
	}
}
