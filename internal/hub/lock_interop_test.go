//go:build unix

package hub

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pyFilelock returns python3 when it can import filelock (Debian's
// python3-filelock, installed by scripts/setup-test-deps.sh), the lock
// huggingface_hub takes on .locks/<repo>/<etag>.lock.
func pyFilelock(t *testing.T) string {
	t.Helper()
	// Debian's python first: python3-filelock lives there, not in a pyenv.
	py, err := "/usr/bin/python3", error(nil)
	if _, serr := os.Stat(py); serr != nil {
		py, err = exec.LookPath("python3")
	}
	if err == nil {
		err = exec.Command(py, "-c", "import filelock").Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with filelock missing (run scripts/setup-test-deps.sh): %v", err)
		}
		t.Skip("python3-filelock missing: run scripts/setup-test-deps.sh")
	}
	return py
}

// TestLockInteropPython: a blob lock held by py-filelock (as
// huggingface_hub holds it while downloading) makes sie wait, and one held
// by sie makes py-filelock time out.
func TestLockInteropPython(t *testing.T) {
	py := pyFilelock(t)
	s, c, _ := newTest(t)
	f, _ := s.Lookup("org/model", "main", "model.safetensors")
	lockPath := filepath.Join(c.CacheDir, ".locks", "models--org--model", f.ETag+".lock")
	os.MkdirAll(filepath.Dir(lockPath), 0o755)

	// Python holds the lock for 1 s.
	cmd := exec.Command(py, "-c", `import sys, time, filelock
l = filelock.FileLock(sys.argv[1])
with l:
    print("locked", flush=True)
    time.sleep(1)
print("released", flush=True)
`, lockPath)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != "locked" {
		t.Fatalf("python: %q", line)
	}
	start := time.Now()
	if _, err := c.Download(context.Background(), "org/model", "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 700*time.Millisecond {
		t.Errorf("sie did not wait for Python's lock (%v)", waited)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}

	// sie holds it: Python cannot take it.
	unlock, err := lock(context.Background(), lockPath)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import sys, filelock
try:
    filelock.FileLock(sys.argv[1], timeout=0.2).acquire()
    print("acquired")
except filelock.Timeout:
    print("busy")
`, lockPath).CombinedOutput()
	unlock()
	if strings.TrimSpace(string(out)) != "busy" || err != nil {
		t.Errorf("python while sie holds the lock: %s %v", out, err)
	}
	st, _ := os.Stat(lockPath)
	if st.Mode().Perm()&0o060 != 0o060 {
		t.Errorf("lock file mode %v, want group read-write (0664)", st.Mode().Perm())
	}
}
