package backends

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveDefaults(t *testing.T) {
	t.Setenv(EnvBackend, "")
	c, err := Config{}.Resolve()
	if err != nil || c.Kind != Go {
		t.Fatalf("zero config: %+v, %v; want the go backend", c, err)
	}
	t.Setenv(EnvBackend, "onnx")
	t.Setenv(EnvONNXLibrary, "/opt/ort/libonnxruntime.so")
	c, err = Config{}.Resolve()
	if err != nil || c.Kind != ONNX || c.ONNXLibrary != "/opt/ort/libonnxruntime.so" {
		t.Fatalf("environment defaults: %+v, %v", c, err)
	}
	c, err = Config{Kind: Go, ONNXLibrary: "/explicit.so"}.Resolve()
	if err != nil || c.Kind != Go || c.ONNXLibrary != "/explicit.so" {
		t.Fatalf("explicit options must win over the environment: %+v, %v", c, err)
	}
}

func TestUnknownKind(t *testing.T) {
	_, _, err := Open(Config{Kind: "tpu"})
	if err == nil || !strings.Contains(err.Error(), `unknown backend "tpu"`) {
		t.Fatalf("got %v", err)
	}
}

func TestGoBackendOpens(t *testing.T) {
	b, c, err := Open(Config{Kind: Go})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if c.Kind != Go || b.Name() == "" {
		t.Fatalf("opened %s as %s", b.Name(), c.Kind)
	}
}

func TestUnavailableBackendsSayWhy(t *testing.T) {
	if !XLAAvailable {
		_, _, err := Open(Config{Kind: XLACUDA})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "-tags xla") {
			t.Errorf("xla without the build tag: %v", err)
		}
	} else {
		// No PJRT plugin can be had on these machines: the error must say so
		// rather than download one.
		_, _, err := Open(Config{Kind: XLACPU, XLAPlugin: "/nonexistent/pjrt_c_api_cpu_plugin.so"})
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("xla:cpu with a missing plugin: %v", err)
		}
	}
	if !ONNXAvailable {
		_, _, err := Open(Config{Kind: ONNX})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "-tags onnx") {
			t.Errorf("onnx without the build tag: %v", err)
		}
	} else {
		t.Setenv(EnvONNXLibrary, "")
		_, _, err := Open(Config{Kind: ONNX, ONNXLibrary: "/nonexistent/libonnxruntime.so"})
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("onnx with a missing library: %v", err)
		}
	}
}

func TestSystemMemory(t *testing.T) {
	if m := SystemMemory(); m < 1<<28 {
		t.Errorf("SystemMemory() = %d; want the machine's RAM", m)
	}
}
