package backends

import (
	"bufio"
	"os"
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
