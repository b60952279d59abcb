package backends

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// SystemMemory returns the machine's physical memory in bytes (MemTotal of
// /proc/meminfo), or 0 when it cannot be read.
func SystemMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// GPUMemory returns the total and free bytes of the first GPU the process may
// use (the first entry of CUDA_VISIBLE_DEVICES, else GPU 0), as nvidia-smi
// reports them. The PJRT plugin API that sie builds against has no memory
// query, and nvidia-smi ships with every NVIDIA driver.
func GPUMemory(ctx context.Context) (total, free int64, err error) {
	index := "0"
	if v := strings.TrimSpace(os.Getenv("CUDA_VISIBLE_DEVICES")); v != "" {
		index = strings.TrimSpace(strings.Split(v, ",")[0])
	}
	out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=memory.total,memory.free",
		"--format=csv,noheader,nounits", "-i", index).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%w: nvidia-smi: %v", ErrUnavailable, err)
	}
	return parseGPUMemory(string(out))
}

// parseGPUMemory reads nvidia-smi's "total, free" line in MiB.
func parseGPUMemory(out string) (total, free int64, err error) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	fields := strings.Split(line, ",")
	if len(fields) != 2 {
		return 0, 0, fmt.Errorf("%w: unexpected nvidia-smi output %q", ErrUnavailable, out)
	}
	var mib [2]int64
	for i, f := range fields {
		if mib[i], err = strconv.ParseInt(strings.TrimSpace(f), 10, 64); err != nil || mib[i] <= 0 {
			return 0, 0, fmt.Errorf("%w: unexpected nvidia-smi output %q", ErrUnavailable, out)
		}
	}
	return mib[0] << 20, mib[1] << 20, nil
}
